/*
 * serial.c — COM1 (16550A at port 0x3f8), polled transmit and receive, no interrupts.
 *
 * Every port access is a VM exit (about 25 µs to user space from CPL 3 on PVM), so output
 * uses the transmit FIFO: once LSR.THRE (bit 5) says the transmitter holding register / FIFO
 * is empty, up to 16 bytes may be written before polling again. Without a FIFO (IIR does not
 * report one after enabling it) the firmware polls before every byte. Polling is bounded: a
 * UART that never reports THRE is written to blindly from then on, rather than hanging.
 */
#include "serial.h"

#include <stdbool.h>

#include "arch.h"
#include "defs.h"

#define UART_THR (PORT_COM1 + 0) /* transmit holding register (DLAB = 0) */
#define UART_DLL (PORT_COM1 + 0) /* divisor latch low (DLAB = 1) */
#define UART_IER (PORT_COM1 + 1) /* interrupt enable (DLAB = 0) */
#define UART_DLM (PORT_COM1 + 1) /* divisor latch high (DLAB = 1) */
#define UART_IIR (PORT_COM1 + 2) /* interrupt identification (read) */
#define UART_FCR (PORT_COM1 + 2) /* FIFO control (write) */
#define UART_LCR (PORT_COM1 + 3) /* line control */
#define UART_MCR (PORT_COM1 + 4) /* modem control */
#define UART_LSR (PORT_COM1 + 5) /* line status */

#define LCR_8N1 0x03
#define LCR_DLAB 0x80
#define FCR_ENABLE_AND_CLEAR 0x07 /* enable FIFOs, clear receive and transmit FIFOs */
#define IIR_FIFOS_ENABLED 0xc0
#define MCR_DTR_RTS 0x03
#define LSR_THRE 0x20
#define LSR_DATA_READY 0x01
#define UART_RBR (PORT_COM1 + 0) /* receive buffer register (DLAB = 0, read) */
#define DIVISOR_115200 1

#define FIFO_DEPTH 16
#define THRE_POLL_LIMIT 100000

static unsigned tx_burst = 1;   /* bytes that may be written after seeing THRE */
static unsigned tx_room;        /* bytes that may still be written without polling */
static bool tx_stuck;           /* THRE never came: stop polling */

void serial_init(void)
{
	outb(UART_IER, 0x00);		/* no interrupts: the firmware polls */
	outb(UART_LCR, LCR_DLAB);
	outb(UART_DLL, DIVISOR_115200);
	outb(UART_DLM, 0x00);
	outb(UART_LCR, LCR_8N1);	/* 8 data bits, no parity, 1 stop bit; DLAB off */
	outb(UART_FCR, FCR_ENABLE_AND_CLEAR);
	outb(UART_MCR, MCR_DTR_RTS);
	tx_burst = (inb(UART_IIR) & IIR_FIFOS_ENABLED) == IIR_FIFOS_ENABLED ? FIFO_DEPTH : 1;
	tx_room = 0;
}

static void wait_transmitter_empty(void)
{
	if (tx_stuck) {
		tx_room = tx_burst;
		return;
	}
	for (unsigned i = 0; i < THRE_POLL_LIMIT; i++) {
		if (inb(UART_LSR) & LSR_THRE) {
			tx_room = tx_burst;
			return;
		}
		cpu_pause();
	}
	tx_stuck = true;
	tx_room = tx_burst;
}

void serial_putc(char c)
{
	if (tx_room == 0)
		wait_transmitter_empty();
	outb(UART_THR, (uint8_t)c);
	tx_room--;
}

int serial_getc(void)
{
	if ((inb(UART_LSR) & LSR_DATA_READY) == 0)
		return -1;
	return inb(UART_RBR);
}
