// Shim header for the libnng system library (Debian: libnng-dev, no pkg-config file).
#ifndef CNNG_SHIM_H
#define CNNG_SHIM_H

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

/// Whether NNG's address `sa` and the kernel's `ss` name the same TCP endpoint.
static inline int cnng_same_endpoint(const nng_sockaddr *sa, const struct sockaddr_storage *ss)
{
	if (sa->s_family == NNG_AF_INET && ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *) ss;
		return sa->s_in.sa_port == in->sin_port && sa->s_in.sa_addr == in->sin_addr.s_addr;
	}
	if (sa->s_family == NNG_AF_INET6 && ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) ss;
		return sa->s_in6.sa_port == in6->sin6_port && memcmp(sa->s_in6.sa_addr, &in6->sin6_addr, 16) == 0;
	}
	return 0;
}

/// Shuts down (SHUT_RDWR) the TCP connections carrying `pipes` (tcp:// and tls+tcp://): each
/// is found among this process's descriptors by its two endpoints. NNG then sees its peer gone
/// in its own receive callback and closes the pipe there. (NNG 1.5.2 can lose a receive when
/// nng_pipe_close races a message arriving in pieces, nng issue #616, fixed in 1.6 by pull
/// request #1636: the pipe is then never freed, and neither is any pipe closed after it.)
/// Sets `found[i]` to 1 for each pipe whose connection was shut down; returns how many were.
static inline int cnng_shutdown_pipes(const nng_pipe *pipes, int count, int *found)
{
	nng_sockaddr *local  = calloc((size_t) count, sizeof(nng_sockaddr));
	nng_sockaddr *remote = calloc((size_t) count, sizeof(nng_sockaddr));
	int           wanted = 0, done = 0;
	if (local == NULL || remote == NULL) {
		free(local);
		free(remote);
		return -1;
	}
	for (int i = 0; i < count; i++) {
		found[i] = 0;
		if (nng_pipe_get_addr(pipes[i], NNG_OPT_LOCADDR, &local[i]) != 0 ||
		    nng_pipe_get_addr(pipes[i], NNG_OPT_REMADDR, &remote[i]) != 0 ||
		    (remote[i].s_family != NNG_AF_INET && remote[i].s_family != NNG_AF_INET6)) {
			found[i] = -1;
			continue;
		}
		wanted++;
	}
	DIR *dir = wanted > 0 ? opendir("/proc/self/fd") : NULL;
	if (dir != NULL) {
		struct dirent *entry;
		while (done < wanted && (entry = readdir(dir)) != NULL) {
			if (entry->d_name[0] < '0' || entry->d_name[0] > '9') {
				continue;
			}
			int fd = atoi(entry->d_name);
			int type = 0;
			socklen_t length = sizeof(type);
			if (fd == dirfd(dir) || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_STREAM) {
				continue;
			}
			struct sockaddr_storage mine, theirs;
			socklen_t mineLength = sizeof(mine), theirsLength = sizeof(theirs);
			if (getsockname(fd, (struct sockaddr *) &mine, &mineLength) != 0 ||
			    getpeername(fd, (struct sockaddr *) &theirs, &theirsLength) != 0) {
				continue;
			}
			for (int i = 0; i < count; i++) {
				if (found[i] == 0 && cnng_same_endpoint(&remote[i], &theirs) && cnng_same_endpoint(&local[i], &mine)) {
					shutdown(fd, SHUT_RDWR);
					found[i] = 1;
					done++;
					break;
				}
			}
		}
		closedir(dir);
	}
	for (int i = 0; i < count; i++) {
		if (found[i] < 0) {
			found[i] = 0;
		}
	}
	free(local);
	free(remote);
	return done;
}

#endif // CNNG_SHIM_H
