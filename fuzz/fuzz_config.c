/* fuzz_config.c - libFuzzer harness for the broker's configuration loader
 * (broker/config.c over lib/yx.c: YAML, ${ENV:default} placeholders, value
 * parsers, TBMQ inheritance), linked with it by `make fuzz`.
 *
 * cfg_load() reads a path: the input is written to a memfd and loaded
 * through /proc/self/fd/N, so nothing touches the disk.
 * Checked, aborting on any violation: a failure leaves a message (the
 * "file:line:col: key: why" of the documentation) and a configuration that
 * cfg_free() accepts; a success prints (cfg_print) and answers cfg_source()
 * for every key. Leaks are reported by the sanitizer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static FILE *sink;
	static char path[64];
	struct cfg c;
	struct perr e;

	if (fd < 0) {
		fd = memfd_create("fuzz-config", 0);
		sink = fopen("/dev/null", "w");
		if (fd < 0 || !sink)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		log_init("fuzz_config", LOG_ERROR);
	}
	if (ftruncate(fd, 0) < 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();

	memset(&c, 0, sizeof(c));
	memset(&e, 0, sizeof(e));
	if (cfg_load(path, &c, &e) < 0) {
		check(e.msg[0] != '\0');
	} else {
		cfg_print(&c, sink);
		for (size_t i = 0; i < cfg_key_count(); i++)
			check(cfg_source(&c, cfg_key_name(i)) != NULL);
	}
	cfg_free(&c);
	return 0;
}
