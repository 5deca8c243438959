/* test_model_path.c - ks_model_load on paths that are not model files: a folder (said
 * "truncated: 0 bytes"), a Hugging Face folder (the message suggests kestrel convert), a FIFO
 * (blocked in open until a writer came), a character device, an empty file; and a llama2.c
 * tokenizer path that is a FIFO or a folder. Each is one error naming the path and what it is. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ks_test.h"
#include "model/model.h"

static void expect(const char *path, const char *tok, const char *want, const char *want2) {
    ks_model *m = NULL;
    ks_err err = {0};
    alarm(20); /* a blocking open fails the test instead of hanging it */
    ks_status st = ks_model_load(path, tok, &m, &err);
    alarm(0);
    CHECK(st != KS_OK && !m && strstr(err.msg, want) && (!want2 || strstr(err.msg, want2)),
          "%s (tokenizer %s): status %d, message \"%s\" lacks \"%s\"", path, tok ? tok : "-", (int)st, err.msg, want);
    ks_model_free(m);
}

int main(void) {
    char dir[] = "/tmp/ks_test_model_path_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char p[4096], fifo[4096], empty[4096];
    expect(dir, NULL, ": is a directory", NULL);
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *f = fopen(p, "w");
    if (f) fputs("{}", f), fclose(f);
    expect(dir, NULL, ": is a directory (a Hugging Face model folder", "kestrel convert");
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    expect(fifo, NULL, "fifo: is a FIFO, not a regular model file", NULL);
    expect("/dev/null", NULL, "/dev/null: is a character device", NULL);
    snprintf(empty, sizeof empty, "%s/empty", dir);
    f = fopen(empty, "w");
    if (f) fclose(f);
    expect(empty, NULL, "truncated: 0 bytes", NULL);
    /* a llama2.c checkpoint's tokenizer */
    snprintf(p, sizeof p, "%s/testdata/llama2c/stories260K.bin", ks_test_env("KS_SHARED_DIR", "../shared"));
    expect(p, fifo, "fifo: not a regular file", NULL);
    expect(p, dir, ": is a directory", NULL);
    snprintf(p, sizeof p, "%s/config.json", dir);
    unlink(fifo), unlink(empty), unlink(p), rmdir(dir);
    TEST_DONE();
}
