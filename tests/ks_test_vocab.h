/* ks_test_vocab.h - the 256 GPT-2 byte symbols (byte-level BPE token texts, byte b's symbol at
 * index b) for tests that build their own vocabularies. */
#ifndef KS_TEST_VOCAB_H
#define KS_TEST_VOCAB_H
#include <stdbool.h>

/* fills bytes[b] with the UTF-8 text of byte b's symbol (NUL-terminated) and strs[b] with it */
static inline void ks_test_byte_symbols(char bytes[256][3], const char **strs) {
    for (int b = 0, extra = 0; b < 256; b++) {
        const bool self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        const unsigned cp = self ? (unsigned)b : 256u + (unsigned)extra++;
        bytes[b][1] = bytes[b][2] = 0;
        if (cp < 0x80) bytes[b][0] = (char)cp;
        else bytes[b][0] = (char)(0xc0 | (cp >> 6)), bytes[b][1] = (char)(0x80 | (cp & 0x3f));
        strs[b] = bytes[b];
    }
}
#endif
