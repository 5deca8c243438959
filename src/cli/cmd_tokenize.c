/* cmd_tokenize.c - `kestrel tokenize`: token ids (or pieces) of a text on one line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_tokenize(int argc, char **argv) {
    cli_opts o;
    int rc = cli_parse(argc, argv, "tokenize", CLI_OPTS_TOKENIZE, &o);
    if (rc || o.help) return rc;
    if (!o.prompt && !o.file) {
        fprintf(stderr, "kestrel: no text given (-p TEXT or -f FILE)\n");
        return 2;
    }
    ks_model *m = cli_load_model(&o);
    if (!m) return 1;
    ks_err err = {0};
    uint8_t *buf = NULL;
    size_t len = 0, n = 0;
    int32_t *ids = NULL;
    const char *text = o.prompt;
    if (o.file) {
        if (ks_file_read_max(o.file, (size_t)o.max_input, &buf, &len, &err)) {
            rc = cli_fail_input(&err);
            goto done;
        }
        text = (const char *)buf;
    } else {
        len = strlen(text);
    }
    if (cli_tokenize_text(ks_model_tokenizer(m), text, len, !o.no_bos, o.parse_special, &ids, &n, &err)) goto fail;
    for (size_t i = 0; i < n; i++) {
        if (i) putchar(' ');
        if (o.pieces) {
            size_t pl = 0;
            const char *p = ks_token_text(ks_model_tokenizer(m), ids[i], &pl);
            fwrite(p, 1, pl, stdout);
        } else {
            printf("%d", ids[i]);
        }
    }
    putchar('\n');
    rc = 0;
    goto done;
fail:
    rc = cli_fail(&err);
done:
    free(ids);
    ks_free(buf);
    ks_model_free(m);
    return rc;
}
