/* home.c - where ppmq-conform finds its own files (see home.h). */
#include "home.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PPMQ_DATADIR
#define PPMQ_DATADIR "/usr/local/share/ppmq"
#endif

static struct {
	char bin[PATH_MAX];      /* the program's directory */
	char data[PATH_MAX];     /* scenarios/ lives here */
	char targets[PATH_MAX];  /* profiles, launch/ */
	char scripts[PATH_MAX];  /* gen-certs */
	bool tree;               /* a source tree, not an installed copy */
} home;

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* dst = a/b, or "" when it does not fit. */
static void join(char *dst, const char *a, const char *b)
{
	if (snprintf(dst, PATH_MAX, "%s/%s", a, b) >= PATH_MAX)
		dst[0] = '\0';
}

/* The directory of the running program, "" when unknown. */
static void find_bin(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	home.bin[0] = '\0';
	if (n <= 0)
		return;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash || slash == exe)
		return;
	*slash = '\0';
	snprintf(home.bin, sizeof(home.bin), "%s", exe);
}

/* Is up (relative to the program's directory) a source tree's root? */
static bool tree_at(const char *up)
{
	char root[PATH_MAX], probe[PATH_MAX];

	join(root, home.bin, up);
	join(probe, root, "conformance/targets");
	if (!is_dir(probe) || !realpath(root, home.data))
		return false;
	home.tree = true;
	join(home.targets, home.data, "conformance/targets");
	join(home.scripts, home.data, "scripts");
	return true;
}

static void find_data(void)
{
	char probe[PATH_MAX];

	if (home.bin[0]) {
		if (tree_at("..")) /* ROOT/bin */
			return;
		join(probe, home.bin, "../share/ppmq");
		if (is_dir(probe) && realpath(probe, home.data)) /* PREFIX/bin, PREFIX/share */
			goto installed;
		if (tree_at("../..")) /* ROOT/build-san/bin, ROOT/build-clang/bin */
			return;
	}
	snprintf(home.data, sizeof(home.data), "%s", PPMQ_DATADIR);
installed:
	join(home.targets, home.data, "targets");
	join(home.scripts, home.data, "scripts");
}

static void cert_dir(char *dst)
{
	const char *cache = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");

	if (home.tree)
		join(dst, home.data, "build/certs");
	else if (cache && *cache)
		snprintf(dst, PATH_MAX, "%s/ppmq/certs", cache);
	else if (h && *h)
		snprintf(dst, PATH_MAX, "%s/.cache/ppmq/certs", h);
	else
		snprintf(dst, PATH_MAX, "/tmp/ppmq-certs-%u", (unsigned)getuid());
}

void home_init(void)
{
	char buf[PATH_MAX];

	find_bin();
	find_data();
	if (home.bin[0])
		setenv("PPMQ_BIN", home.bin, 0);
	join(buf, home.targets, "launch");
	setenv("PPMQ_LAUNCH_DIR", buf, 0);
	join(buf, home.scripts, "gen-certs");
	setenv("PPMQ_GEN_CERTS", buf, 0);
	cert_dir(buf);
	setenv("PPMQ_CERT_DIR", buf, 0);
}

const char *home_scenarios(void)
{
	static char dir[PATH_MAX];

	if (is_dir("scenarios"))
		return "scenarios";
	join(dir, home.data[0] ? home.data : PPMQ_DATADIR, "scenarios");
	return dir;
}

const char *home_target(const char *arg, char *buf, size_t cap)
{
	if (is_file(arg) || strchr(arg, '/') || !home.targets[0])
		return arg;
	if ((size_t)snprintf(buf, cap, "%s/%s", home.targets, arg) < cap && is_file(buf))
		return buf;
	if ((size_t)snprintf(buf, cap, "%s/%s.yml", home.targets, arg) < cap && is_file(buf))
		return buf;
	return arg;
}
