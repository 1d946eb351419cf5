/*
 * serial.h — polled output on the COM1 16550A UART.
 */
#ifndef FW_SERIAL_H
#define FW_SERIAL_H

void serial_init(void);
void serial_putc(char c);
/* The next received byte, or -1 when none is waiting (polled, no interrupts). */
int serial_getc(void);

#endif
