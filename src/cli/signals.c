/* signals.c - interrupts of the commands that write files: SIGINT, SIGTERM and
 * SIGHUP remove the temporary output files (ks_output_cleanup), then end the process by
 * the same signal (default action), so the exit status still says what happened.
 * A signal that was ignored when the process started (nohup, a shell's background
 * job) stays ignored. SIGXFSZ (a file-size limit) is ignored: the write then fails with EFBIG and the
 * command reports it and cleans up like any other write error. */
#include <signal.h>

#include "cli.h"

static void on_signal(int sig) {
    ks_output_cleanup(); /* unlink(2) only: async-signal-safe */
    raise(sig);              /* SA_RESETHAND restored the default action; delivered on return */
}

void cli_trap_signals(void) {
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaddset(&sa.sa_mask, sigs[i]);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN) sigaction(sigs[i], &sa, NULL);
    }
    signal(SIGXFSZ, SIG_IGN);
}
