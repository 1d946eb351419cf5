/*
 * console.h — formatted console lines.
 *
 * Line conventions (see README.md): a line starts with "fw: " when it is identical on every
 * platform, "fw~ " when it legitimately depends on the platform. Lines end with "\n" only.
 * Only the BSP prints, except for fatal exceptions.
 */
#ifndef FW_CONSOLE_H
#define FW_CONSOLE_H

#include <stddef.h>

/*
 * A small printf: %s %c %d %u %x, with the length modifiers l and ll, a zero-pad flag and a
 * field width (e.g. %016lx). %.*s prints a counted string. Control characters in %s/%.*s
 * arguments are printed as '?', so one call can never produce more lines than its format.
 */
void fw_printf(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* If the cursor is not at the start of a line, end the line (used before fatal messages). */
void console_break_line(void);

#endif
