/* fuzz_chat.c - libFuzzer target: chat-template detection and rendering with a
 * fuzzer-chosen template and messages (templates come from model files).
 * Invariants: the spans of a render cover its text in order, neighbours of
 * different kinds, and equal ks_chat_render's text. */
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
        ks_chat_span *spans = NULL;
        size_t n_spans = 0;
        char *plain = NULL;
        if (ks_chat_render_spans(tmpl, msgs + (n == 1), n - (n == 1), n % 2, &out, &spans, &n_spans, &err) == KS_OK) {
            size_t pos = 0;
            for (size_t i = 0; i < n_spans; i++) {
                if (spans[i].off != pos || !spans[i].len || (i && spans[i].content == spans[i - 1].content))
                    __builtin_trap();
                pos += spans[i].len;
            }
            if (pos != strlen(out)) __builtin_trap();
            if (ks_chat_render(tmpl, msgs + (n == 1), n - (n == 1), n % 2, &plain, &err) != KS_OK ||
                strcmp(plain, out))
                __builtin_trap();
        }
        free(plain), free(spans), free(out);
        out = NULL;
    }
    free(ks_chat_default_system(tmpl));
    free(buf);
    return 0;
}
