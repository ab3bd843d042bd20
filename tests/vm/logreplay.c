/* SPDX-License-Identifier: MIT */
/* dm-log-writes log reader: see logreplay.h. */
#include "logreplay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lr_parse(const uint8_t *buf, size_t len, struct lr_log *log, char *why, size_t whylen)
{
	struct lr_super sb;
	uint64_t pos, i, ss;

	memset(log, 0, sizeof(*log));
	if (len < sizeof(sb)) {
		snprintf(why, whylen, "log shorter than its super block");
		return -EINVAL;
	}
	memcpy(&sb, buf, sizeof(sb));
	if (sb.magic != LR_MAGIC || sb.version != LR_VERSION) {
		snprintf(why, whylen, "super block: magic %#llx version %llu",
			 (unsigned long long)sb.magic, (unsigned long long)sb.version);
		return -EINVAL;
	}
	ss = sb.sectorsize;
	if (ss < 512 || (ss & (ss - 1)) || ss > 65536) {
		snprintf(why, whylen, "sector size %llu", (unsigned long long)ss);
		return -EINVAL;
	}
	log->sectorsize = (uint32_t)ss;
	log->nr_entries = sb.nr_entries;
	log->e = calloc(sb.nr_entries ? sb.nr_entries : 1, sizeof(*log->e));
	if (!log->e) {
		snprintf(why, whylen, "%llu entries: out of memory",
			 (unsigned long long)sb.nr_entries);
		return -EINVAL;
	}
	pos = ss; /* the first entry follows the super block's sector */
	for (i = 0; i < sb.nr_entries; i++) {
		struct lr_disk_entry d;
		struct lr_entry *e = &log->e[i];

		if (pos + ss > len) {
			snprintf(why, whylen, "entry %llu at byte %llu: past the log's end",
				 (unsigned long long)i, (unsigned long long)pos);
			lr_free(log);
			return -EINVAL;
		}
		memcpy(&d, buf + pos, sizeof(d));
		e->flags = d.flags;
		e->off = d.sector * ss;
		e->len = d.nr_sectors * ss;
		if (d.flags & LR_MARK) {
			size_t n =
			    d.data_len < sizeof(e->mark) - 1 ? d.data_len : sizeof(e->mark) - 1;

			if (d.data_len > ss - sizeof(d)) {
				snprintf(why, whylen, "mark %llu: %llu bytes of text",
					 (unsigned long long)i, (unsigned long long)d.data_len);
				lr_free(log);
				return -EINVAL;
			}
			memcpy(e->mark, buf + pos + sizeof(d), n);
			e->mark[n] = 0;
		}
		pos += ss;
		if (!(d.flags & LR_DISCARD) && e->len) {
			if (pos + e->len > len) {
				snprintf(why, whylen,
					 "entry %llu: %llu bytes of data past the log's end",
					 (unsigned long long)i, (unsigned long long)e->len);
				lr_free(log);
				return -EINVAL;
			}
			e->data = buf + pos;
			pos += e->len;
		}
		log->n++;
	}
	return 0;
}

void lr_free(struct lr_log *log)
{
	free(log->e);
	log->e = NULL;
	log->n = 0;
}

int lr_apply(const struct lr_entry *e, uint8_t *image, size_t imglen)
{
	if (!e->len)
		return 0;
	if (e->off > imglen || e->len > imglen - e->off)
		return -ERANGE;
	if (e->flags & LR_DISCARD)
		memset(image + e->off, 0, e->len);
	else if (e->data)
		memcpy(image + e->off, e->data, e->len);
	return 0;
}
