/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * A main() for a fuzz target without libFuzzer, so that `make test`
 * replays the committed inputs in seconds (test/unit/run.sh builds each
 * target with it, with gcc and AddressSanitizer as the unit tests).
 * Runs LLVMFuzzerTestOneInput once on every file of the directories (or
 * files) given, in name order, and prints the harness lines run.sh adds
 * up: "ok NAME: N inputs" and "# unit: 1 passed, 0 failed". A failing
 * input aborts (the targets' CHECK, a sanitizer), after its name went to
 * stderr.
 *
 *   replay NAME DIR|FILE...
 */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	uint8_t *buf;
	FILE *f;
	long n;

	f = fopen(path, "rb");
	if(f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
		perror(path);
		if(f)
			fclose(f);
		return -1;
	}
	rewind(f);
	/* exactly n bytes, so that a read past the input is caught */
	buf = malloc(n ? n : 1);
	if(buf == NULL || fread(buf, 1, n, f) != (size_t)n) {
		perror(path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	fprintf(stderr, "# replaying %s\n", path);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* the files of dir, or dir itself; returns how many ran, -1 on error */
static long run_path(const char *path)
{
	struct dirent **names;
	struct stat st;
	char p[4096];
	long n = 0;
	int i, k;

	if(stat(path, &st) != 0)
		return 0; /* no regressions yet */
	if(!S_ISDIR(st.st_mode))
		return run_file(path) < 0 ? -1 : 1;
	k = scandir(path, &names, NULL, by_name);
	if(k < 0) {
		perror(path);
		return -1;
	}
	for(i = 0; i < k; i++) {
		snprintf(p, sizeof(p), "%s/%s", path, names[i]->d_name);
		if(names[i]->d_name[0] != '.' && stat(p, &st) == 0
				&& S_ISREG(st.st_mode)) {
			if(n >= 0 && run_file(p) < 0)
				n = -1;
			else if(n >= 0)
				n++;
		}
		free(names[i]);
	}
	free(names);
	return n;
}

int main(int argc, char **argv)
{
	long n = 0, k;
	int i;

	if(argc < 3) {
		fprintf(stderr, "usage: replay NAME DIR|FILE...\n");
		return 2;
	}
	for(i = 2; i < argc; i++) {
		k = run_path(argv[i]);
		if(k < 0) {
			printf("not ok %s: cannot read %s\n", argv[1], argv[i]);
			printf("# unit: 0 passed, 1 failed\n");
			return 1;
		}
		n += k;
	}
	printf("ok %s: %ld inputs\n", argv[1], n);
	printf("# unit: 1 passed, 0 failed\n");
	return 0;
}
