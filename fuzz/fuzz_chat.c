/* fuzz_chat.c - libFuzzer target: chat-template detection and rendering with a
 * fuzzer-chosen template and messages (templates come from model files). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "generate/chat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* split at the first two NUL bytes: template \0 message \0 message */
    char *buf = malloc(size + 3);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = buf[size + 2] = '\0';
    const char *tmpl = buf;
    const char *m1 = tmpl + strlen(tmpl) + 1; /* <= buf + size + 1: the padding stops strlen */
    const char *m2 = m1 + strlen(m1) + 1;     /* <= buf + size + 2 */
    ks_chat_msg msgs[4] = {{"system", m1}, {"user", m2}, {"assistant", m1}, {"user", NULL}};
    char *out = NULL;
    ks_err err;
    ks_chat_detect(tmpl);
    for (size_t n = 1; n <= 4; n++) {
        if (ks_chat_render(tmpl, msgs + (n == 1), n - (n == 1), n % 2, &out, &err) == KS_OK) free(out);
        out = NULL;
    }
    free(ks_chat_default_system(tmpl));
    free(buf);
    return 0;
}
