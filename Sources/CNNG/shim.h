// Shim header for the libnng system library (Debian: libnng-dev, no pkg-config file).
#ifndef CNNG_SHIM_H
#define CNNG_SHIM_H

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

// Macros that Swift cannot import (function-like or parenthesised negative
// constants) are re-exported as inline functions.

/// NNG_DURATION_INFINITE (-1).
static inline nng_duration cnng_duration_infinite(void) { return NNG_DURATION_INFINITE; }
/// NNG_DURATION_DEFAULT (-2).
static inline nng_duration cnng_duration_default(void) { return NNG_DURATION_DEFAULT; }

/// Formats the remote address of a pipe (NNG_OPT_REMADDR) as a URL-like string
/// ("tcp://1.2.3.4:5", "tcp://[::1]:5", "ipc:///path", "inproc://name").
/// Returns 0 on success or an nng error code; `buf` is always NUL-terminated
/// when `len > 0`.
static inline int cnng_pipe_remote_address(nng_pipe pipe, char *buf, size_t len)
{
	nng_sockaddr sa;
	char         host[INET6_ADDRSTRLEN];
	int          rv;

	if (len == 0) {
		return NNG_EINVAL;
	}
	buf[0] = '\0';
	memset(&sa, 0, sizeof(sa));
	if ((rv = nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &sa)) != 0) {
		return rv;
	}
	switch (sa.s_family) {
	case NNG_AF_INET:
		if (inet_ntop(AF_INET, &sa.s_in.sa_addr, host, sizeof(host)) == NULL) {
			return NNG_EADDRINVAL;
		}
		snprintf(buf, len, "tcp://%s:%u", host, (unsigned) ntohs(sa.s_in.sa_port));
		return 0;
	case NNG_AF_INET6:
		if (inet_ntop(AF_INET6, sa.s_in6.sa_addr, host, sizeof(host)) == NULL) {
			return NNG_EADDRINVAL;
		}
		snprintf(buf, len, "tcp://[%s]:%u", host, (unsigned) ntohs(sa.s_in6.sa_port));
		return 0;
	case NNG_AF_IPC:
		snprintf(buf, len, "ipc://%.*s", (int) sizeof(sa.s_ipc.sa_path), sa.s_ipc.sa_path);
		return 0;
	case NNG_AF_INPROC:
		snprintf(buf, len, "inproc://%.*s", (int) sizeof(sa.s_inproc.sa_name), sa.s_inproc.sa_name);
		return 0;
	default:
		return NNG_ENOTSUP;
	}
}

/// 1 when the pipe's peer is on this machine by construction (ipc://, inproc://), 0 for
/// network transports (tcp://, tls+tcp://) and when the address cannot be read.
static inline int cnng_pipe_is_local(nng_pipe pipe)
{
	nng_sockaddr sa;
	memset(&sa, 0, sizeof(sa));
	if (nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &sa) != 0) {
		return 0;
	}
	return sa.s_family == NNG_AF_IPC || sa.s_family == NNG_AF_INPROC;
}

#endif // CNNG_SHIM_H
