#ifndef MT_UTF8_H
#define MT_UTF8_H

#include <stddef.h>

/*
 * Length (1 to 4) of the well-formed UTF-8 sequence at the start of the
 * NUL-terminated string s (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF), or 0 when s starts with none.  A sequence cut
 * short by the terminating NUL is not well-formed.
 */
size_t mt_utf8_seq(const unsigned char *s);

#endif
