#include "oomprof/base/options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define EXIT_USAGE_	 2
#define CONFIG_MAX_LINE	 4096
#define CONFIG_MAX_LINES 10000
#define OPT_VAL_BASE	 1000 /* getopt values of table entries: OPT_VAL_BASE + index */
#define OPT_VAL_CONFIG	 900
#define OPT_VAL_NOCONFIG 901

static void *field(void *out, const struct opt_def *d)
{
	return (char *)out + d->offset;
}

static size_t ndefs(const struct opt_def *defs)
{
	size_t n = 0;

	while (defs[n].name)
		n++;
	return n;
}

int opts_parse_size(const char *s, int64_t *out)
{
	static const char units[] = "KMGT";
	char *end;
	long long v;
	int shift = 0;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno || v < 0)
		return -EINVAL;
	if (*end) {
		const char *u = strchr(units, toupper((unsigned char)*end));
		if (!u || !*u)
			return -EINVAL;
		shift = 10 * (int)(u - units + 1);
		end++;
		if (!strcasecmp(end, "iB") || !strcasecmp(end, "B"))
			end += strlen(end);
		if (*end)
			return -EINVAL;
	}
	if (shift && v > (INT64_MAX >> shift))
		return -EINVAL;
	*out = (int64_t)v << shift;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false",
										    "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i]))
			return *out = true, 0;
		if (!strcasecmp(s, no[i]))
			return *out = false, 0;
	}
	return -EINVAL;
}

static int parse_int(const struct opt_def *d, const char *s, int64_t *out, char *why, size_t len)
{
	char *end;
	long long v;
	int e = 0;

	if (d->kind == OPT_SIZE) {
		int64_t sz;
		if (opts_parse_size(s, &sz)) {
			snprintf(why, len, "'%s' is not a size (e.g. 4096, 64K, 100M, 1G)", s);
			return -EINVAL;
		}
		v = sz;
	} else {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (end == s || *end || errno) {
			snprintf(why, len, "'%s' is not a whole number", s);
			return -EINVAL;
		}
	}
	if (v < d->min || (d->max && v > d->max)) {
		if (d->max)
			snprintf(why, len, "%s must be between %lld and %lld, not %s", d->name,
				 (long long)d->min, (long long)d->max, s);
		else
			snprintf(why, len, "%s must be at least %lld, not %s", d->name,
				 (long long)d->min, s);
		e = -ERANGE;
	}
	*out = v;
	return e;
}

static int parse_double(const struct opt_def *d, const char *s, double *out, char *why, size_t len)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || v != v) {
		snprintf(why, len, "'%s' is not a number", s);
		return -EINVAL;
	}
	if (v < (double)d->min || (d->max && v > (double)d->max)) {
		snprintf(why, len, "%s must be between %lld and %lld, not %s", d->name,
			 (long long)d->min, (long long)d->max, s);
		return -ERANGE;
	}
	*out = v;
	return 0;
}

static int store_keep(struct opt_store *st, char *s)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 16;
		char **v = realloc(st->strs, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		st->strs = v;
		st->cap = cap;
	}
	st->strs[st->n++] = s;
	return 0;
}

/* Stores one value. s is NULL for a flag given without argument. */
static int set_value(const struct opt_def *d, void *out, const char *s, bool from_file, char *why,
		     size_t len)
{
	void *f = field(out, d);

	switch (d->kind) {
	case OPT_BOOL:
		if (!s)
			return *(bool *)f = true, 0;
		if (parse_bool(s, f)) {
			snprintf(why, len, "%s takes yes or no, not '%s'", d->name, s);
			return -EINVAL;
		}
		return 0;
	case OPT_STRING:
		*(const char **)f = s;
		return 0;
	case OPT_LIST: {
		struct opt_list *l = f;
		if (l->n == OPT_LIST_MAX) {
			snprintf(why, len, "%s given more than %d times", d->name, OPT_LIST_MAX);
			return -E2BIG;
		}
		l->v[l->n++] = s;
		return 0;
	}
	case OPT_CHOICE:
		for (int i = 0; d->choices[i]; i++)
			if (!strcmp(s, d->choices[i]))
				return *(int *)f = i, 0;
		snprintf(why, len, "%s takes one of:", d->name);
		for (int i = 0; d->choices[i]; i++)
			snprintf(why + strlen(why), len - strlen(why), " %s", d->choices[i]);
		snprintf(why + strlen(why), len - strlen(why), " (not '%s')", s);
		return -EINVAL;
	case OPT_INT_IMPLIED: {
		bool b;
		if (!s)
			return *(int64_t *)f = d->implied, 0;
		if (from_file && !parse_bool(s, &b))
			return *(int64_t *)f = b ? d->implied : 0, 0;
		return parse_int(d, s, f, why, len);
	}
	case OPT_INT:
	case OPT_SIZE:
		return parse_int(d, s, f, why, len);
	case OPT_DOUBLE:
		return parse_double(d, s, f, why, len);
	}
	return -EINVAL;
}

static const struct opt_def *find_def(const struct opt_def *defs, const char *name)
{
	for (size_t i = 0; defs[i].name; i++)
		if (!strcmp(defs[i].name, name))
			return &defs[i];
	return NULL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* One "key = value" line. 0, or -1 with why filled. */
static int config_line(const struct opt_command *cmd, char *line, void *out,
		       struct opt_store *store, bool *listed, char *why, size_t len)
{
	char *eq = strchr(line, '='), *key, *value, *copy;
	const struct opt_def *d;

	if (!eq) {
		snprintf(why, len, "expected 'key = value', got '%.60s'", line);
		return -1;
	}
	*eq = 0;
	key = trim(line);
	value = trim(eq + 1);
	d = find_def(cmd->defs, key);
	if (!d) {
		snprintf(why, len, "unknown key '%.60s' (keys are the long options of %s --help)",
			 key, cmd->name);
		return -1;
	}
	if (!*value && d->kind != OPT_STRING) {
		snprintf(why, len, "%s has no value", key);
		return -1;
	}
	copy = strdup(value);
	if (!copy || store_keep(store, copy)) {
		free(copy);
		snprintf(why, len, "out of memory");
		return -1;
	}
	if (d->kind == OPT_LIST && !listed[d - cmd->defs]) { /* a later file replaces */
		((struct opt_list *)field(out, d))->n = 0;
		listed[d - cmd->defs] = true;
	}
	return set_value(d, out, copy, true, why, len) ? -1 : 0;
}

int opts_read_config(const struct opt_command *cmd, const char *path, void *out,
		     struct opt_store *store)
{
	char line[CONFIG_MAX_LINE + 2], why[512];
	bool *listed = calloc(ndefs(cmd->defs) + 1, sizeof(bool));
	FILE *f = fopen(path, "re");
	int lineno = 0, rc = 0;

	if (!f || !listed) {
		fprintf(stderr, "%s: cannot read %s: %s\n", cmd->name, path, strerror(errno));
		free(listed);
		if (f)
			fclose(f);
		return EXIT_USAGE_;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s;
		if (++lineno > CONFIG_MAX_LINES || (!strchr(line, '\n') && !feof(f))) {
			fprintf(stderr, "%s: %s:%d: line too long (or too many lines)\n", cmd->name,
				path, lineno);
			rc = EXIT_USAGE_;
			break;
		}
		s = trim(line);
		if (!*s || *s == '#')
			continue;
		if (config_line(cmd, s, out, store, listed, why, sizeof(why))) {
			fprintf(stderr, "%s: %s:%d: %s\n", cmd->name, path, lineno, why);
			rc = EXIT_USAGE_;
			break;
		}
	}
	if (!rc && ferror(f)) {
		fprintf(stderr, "%s: reading %s: %s\n", cmd->name, path, strerror(errno));
		rc = EXIT_USAGE_;
	}
	fclose(f);
	free(listed);
	return rc;
}

/* The --config / --no-config of argv, without disturbing getopt. */
static const char *config_path(const struct opt_command *cmd, int argc, char **argv, bool *explicit)
{
	const char *path = cmd->default_config;

	*explicit = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--no-config")) {
			path = NULL;
			*explicit = true;
		} else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			path = argv[++i];
			*explicit = true;
		} else if (!strncmp(argv[i], "--config=", 9)) {
			path = argv[i] + 9;
			*explicit = true;
		}
	}
	return path;
}

static int build_getopt(const struct opt_command *cmd, struct option **lo, char *shorts,
			size_t shorts_len)
{
	size_t n = ndefs(cmd->defs), k = 0, s = 0;
	struct option *v = calloc(n + 4, sizeof(*v));

	if (!v)
		return -ENOMEM;
	shorts[s++] = ':';
	for (size_t i = 0; i < n; i++) {
		const struct opt_def *d = &cmd->defs[i];
		int has = d->kind == OPT_BOOL	       ? no_argument
			  : d->kind == OPT_INT_IMPLIED ? optional_argument
						       : required_argument;
		v[k++] = (struct option){d->name, has, NULL, (int)(OPT_VAL_BASE + i)};
		if (d->short_name && s + 3 < shorts_len) {
			shorts[s++] = d->short_name;
			if (has == required_argument)
				shorts[s++] = ':';
		}
	}
	v[k++] = (struct option){"config", required_argument, NULL, OPT_VAL_CONFIG};
	v[k++] = (struct option){"no-config", no_argument, NULL, OPT_VAL_NOCONFIG};
	v[k++] = (struct option){"help", no_argument, NULL, 'h'};
	shorts[s++] = 'h';
	shorts[s] = 0;
	*lo = v;
	return 0;
}

static int short_index(const struct opt_command *cmd, int c)
{
	for (size_t i = 0; cmd->defs[i].name; i++)
		if (cmd->defs[i].short_name == c)
			return (int)i;
	return -1;
}

static int parse_argv(const struct opt_command *cmd, void *out, int argc, char **argv)
{
	char shorts[128], why[512];
	bool *listed = calloc(ndefs(cmd->defs) + 1, sizeof(bool));
	struct option *lo = NULL;
	int c, rc = 0;

	if (!listed || build_getopt(cmd, &lo, shorts, sizeof(shorts))) {
		free(listed);
		fprintf(stderr, "%s: out of memory\n", cmd->name);
		return EXIT_USAGE_;
	}
	optind = 1;
	opterr = 0;
	while (!rc && (c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		int i = c >= OPT_VAL_BASE ? c - OPT_VAL_BASE : short_index(cmd, c);
		const struct opt_def *d = i >= 0 ? &cmd->defs[i] : NULL;
		if (c == OPT_VAL_CONFIG || c == OPT_VAL_NOCONFIG)
			continue;
		if (c == 'h' && !d) {
			opts_usage(cmd, stdout);
			rc = -1;
		} else if (!d) {
			fprintf(stderr, "%s: %s '%s'\n", cmd->name,
				c == ':' ? "missing value for" : "unknown option",
				argv[optind - 1]);
			opts_usage(cmd, stderr);
			rc = EXIT_USAGE_;
		} else {
			if (d->kind == OPT_LIST && !listed[i]) { /* flags replace the file's */
				((struct opt_list *)field(out, d))->n = 0;
				listed[i] = true;
			}
			if (set_value(d, out, optarg, false, why, sizeof(why))) {
				fprintf(stderr, "%s: --%s: %s\n", cmd->name, d->name, why);
				rc = EXIT_USAGE_;
			}
		}
	}
	if (!rc && optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", cmd->name, argv[optind]);
		rc = EXIT_USAGE_;
	}
	free(lo);
	free(listed);
	return rc;
}

int opts_parse(const struct opt_command *cmd, void *out, struct opt_store *store, int argc,
	       char **argv)
{
	bool explicit;
	const char *path = config_path(cmd, argc, argv, &explicit);
	int rc;

	for (int i = 1; i < argc; i++) /* --help needs no readable configuration */
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return parse_argv(cmd, out, argc, argv);
	if (path && (explicit || access(path, F_OK) == 0)) {
		rc = opts_read_config(cmd, path, out, store);
		if (rc)
			return rc;
	}
	return parse_argv(cmd, out, argc, argv);
}

void opts_usage(const struct opt_command *cmd, FILE *out)
{
	fputs(cmd->synopsis, out);
	for (size_t i = 0; cmd->defs[i].name; i++) {
		const struct opt_def *d = &cmd->defs[i];
		char left[64];
		const char *eq = d->kind == OPT_INT_IMPLIED ? "[=" : " ";
		snprintf(left, sizeof(left), "%s%c%s--%s%s%s%s", d->short_name ? "-" : " ",
			 d->short_name ? d->short_name : ' ', d->short_name ? ", " : "  ", d->name,
			 d->metavar ? eq : "", d->metavar ? d->metavar : "",
			 d->metavar && d->kind == OPT_INT_IMPLIED ? "]" : "");
		if (strlen(left) > 28)
			fprintf(out, "  %s\n  %-28s %s\n", left, "", d->help);
		else
			fprintf(out, "  %-28s %s\n", left, d->help);
	}
	fprintf(out,
		"      --config FILE            read options from FILE (flags win; default\n"
		"                               %s)\n"
		"      --no-config              read no configuration file\n",
		cmd->default_config ? cmd->default_config : "none");
}

void opts_free(struct opt_store *store)
{
	for (size_t i = 0; i < store->n; i++)
		free(store->strs[i]);
	free(store->strs);
	*store = (struct opt_store){0};
}
