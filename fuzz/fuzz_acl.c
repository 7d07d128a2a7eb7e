/* fuzz_acl.c - libFuzzer harness for the broker's ACL file (broker/acl.c),
 * linked with it by `make fuzz`.
 *
 * The input is a file's text: a failure must leave a "name:line..."
 * message; a success must answer every operation for a few clients, and
 * the filter relations must hold for the filters the rules name
 * (covering implies overlapping, both reflexive). Leaks are reported by
 * the sanitizer.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	static const char *const topics[] = { "a/b", "#", "+/x", "$SYS/x", "" };
	struct perr e;
	struct acl *a;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "203.0.113.200", &sin->sin_addr);
	e.msg[0] = '\0';
	a = acl_parse("f", text, &e);
	if (!a) {
		check(strncmp(e.msg, "f:", 2) == 0 || strcmp(e.msg, "out of memory") == 0);
	} else {
		struct acl_who w = { "alice", "c1", &ss };
		const char *rule;

		for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
			size_t n = strlen(topics[i]);

			acl_allows(a, &w, ACL_PUBLISH, topics[i], n, &rule);
			check(rule != NULL);
			acl_allows(a, &w, ACL_SUBSCRIBE, topics[i], n, &rule);
			check(rule != NULL);
			check(acl_filter_covers(topics[i], n, topics[i], n));
		}
		acl_allows(a, &w, ACL_CONNECT, NULL, 0, &rule);
		check(rule != NULL);
		acl_free(a);
	}
	/* The relations on the raw input cut in two at its first newline. */
	{
		char *nl = strchr(text, '\n');
		size_t n1 = nl ? (size_t)(nl - text) : strlen(text);
		const char *f2 = nl ? nl + 1 : "";
		size_t n2 = strlen(f2);

		if (acl_filter_covers(text, n1, f2, n2))
			check(acl_filter_overlap(text, n1, f2, n2));
		check(acl_filter_overlap(text, n1, f2, n2) == acl_filter_overlap(f2, n2, text, n1));
	}
	free(text);
	return 0;
}
