/*
 * openloop.c — an open-loop HTTP load generator for loopback benchmarks.
 *
 *   openloop PORT PATH RATE SECONDS [CONNECTIONS [HEADER]]
 *
 * Request i is due at start + i/RATE, whatever happened to the ones before
 * it (a closed loop like wrk waits for answers and so hides queueing). It
 * goes out on the first idle keep-alive connection to 127.0.0.1:PORT; if
 * none is idle it waits for one, and that wait counts: latency is measured
 * from when the request was due, not from when it was sent (no coordinated
 * omission). After SECONDS it stops issuing, waits at most 5 s for the
 * answers in flight, and prints one line of JSON: requests due, answered,
 * errors, non-2xx, the achieved rate and latency percentiles in µs.
 *
 * Only loopback: the address is fixed. Responses must carry Content-Length
 * (colibri's, and any server answering from a buffer, do).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    int busy;               /* a request is out */
    int64_t due_us;         /* when the request out was due */
    size_t have, need;      /* bytes of the answer read; total once the head is parsed (0 = not yet) */
    char head[16384];
    size_t hlen;
    int status;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int dial(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("openloop: connect");
        exit(2);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* non-blocking once connected: a read waiting for the rest of one answer
     * must not hold back the requests due on every other connection */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: openloop PORT PATH RATE SECONDS [CONNECTIONS [HEADER]]\n");
        return 2;
    }
    int port = atoi(argv[1]), nconn = argc > 5 ? atoi(argv[5]) : 64;
    const char *path = argv[2], *hdr = argc > 6 ? argv[6] : NULL;
    double rate = atof(argv[3]), secs = atof(argv[4]);
    if (port <= 0 || rate <= 0 || secs <= 0 || nconn <= 0 || secs * rate > 1e8) {
        fprintf(stderr, "openloop: bad arguments\n");
        return 2;
    }
    char req[4096];
    int reqlen = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s\r\n",
                          path, hdr ? hdr : "", hdr ? "\r\n" : "");
    if (reqlen <= 0 || (size_t)reqlen >= sizeof req)
        return 2;

    size_t total = (size_t)(secs * rate);
    int64_t *lat = calloc(total ? total : 1, sizeof *lat);
    struct conn *c = calloc((size_t)nconn, sizeof *c);
    int ep = epoll_create1(0);
    if (!lat || !c || ep < 0) {
        free(lat);
        free(c);
        return 2;
    }
    for (int i = 0; i < nconn; i++) {
        c[i].fd = dial(port);
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
    }
    size_t next = 0, done = 0, non2xx = 0, inflight = 0;
    int64_t start = now_us() + 10000, end_issue = start + (int64_t)(secs * 1e6);
    int64_t deadline = end_issue + 5000000;
    static char sink[1 << 16];

    while (done < total) {
        int64_t t = now_us();
        if (t > deadline)
            break;
        /* issue everything that is due, while a connection is idle */
        for (int i = 0; i < nconn && next < total; i++) {
            int64_t due = start + (int64_t)((double)next * 1e6 / rate);
            if (due > t)
                break;
            if (c[i].busy)
                continue;
            if (write(c[i].fd, req, (size_t)reqlen) != reqlen) {
                perror("openloop: write");
                free(lat);
                free(c);
                return 2;
            }
            c[i] = (struct conn){ .fd = c[i].fd, .busy = 1, .due_us = due };
            next++;
            inflight++;
            i = -1;         /* rescan from the first idle connection */
        }
        /* sleep until the next request is due or an answer arrives (epoll_pwait2: ns timeout) */
        int64_t due = next < total ? start + (int64_t)((double)next * 1e6 / rate) : deadline;
        int64_t wait_us = inflight == (size_t)nconn ? 100000 : due - now_us();
        if (wait_us < 0)
            wait_us = 0;
        if (wait_us > 100000)
            wait_us = 100000;
        struct timespec to = { .tv_sec = 0, .tv_nsec = (long)wait_us * 1000 };
        struct epoll_event evs[64];
        int n = epoll_pwait2(ep, evs, 64, &to, NULL);
        for (int k = 0; k < n; k++) {
            struct conn *x = &c[evs[k].data.u32];
            for (;;) {
                ssize_t r;
                if (!x->need) {
                    r = read(x->fd, x->head + x->hlen, sizeof x->head - 1 - x->hlen);
                    if (r <= 0)
                        break;
                    x->hlen += (size_t)r;
                    x->head[x->hlen] = '\0';
                    char *eoh = strstr(x->head, "\r\n\r\n");
                    if (!eoh) {
                        if (x->hlen >= sizeof x->head - 1) {
                            fprintf(stderr, "openloop: head too large\n");
                            free(lat);
                            free(c);
                            return 2;
                        }
                        continue;
                    }
                    x->status = atoi(x->head + 9);
                    size_t clen = 0;
                    for (char *p = x->head; p < eoh; p = strstr(p, "\r\n") + 2)
                        if (strncasecmp(p, "Content-Length:", 15) == 0)
                            clen = strtoul(p + 15, NULL, 10);
                    x->need = (size_t)(eoh + 4 - x->head) + clen;
                    x->have = x->hlen;
                } else {
                    size_t want = x->need - x->have;
                    r = read(x->fd, sink, want < sizeof sink ? want : sizeof sink);
                    if (r <= 0)
                        break;
                    x->have += (size_t)r;
                }
                if (x->need && x->have >= x->need) {
                    lat[done++] = now_us() - x->due_us;
                    if (x->status < 200 || x->status > 299)
                        non2xx++;
                    x->busy = 0;
                    x->need = x->hlen = 0;
                    inflight--;
                    break;
                }
            }
        }
        if (next >= total && inflight == 0)
            break;
    }
    int64_t elapsed = now_us() - start;
    qsort(lat, done, sizeof *lat, cmp64);
#define PCT(p) (done ? lat[(size_t)((double)(done - 1) * (p))] : 0)
    printf("{\"rate\":%.0f,\"seconds\":%.1f,\"connections\":%d,\"due\":%zu,\"answered\":%zu,"
           "\"unanswered\":%zu,\"non2xx\":%zu,\"achieved_rps\":%.1f,\"p50_us\":%lld,\"p90_us\":%lld,"
           "\"p99_us\":%lld,\"p999_us\":%lld,\"max_us\":%lld}\n",
           rate, secs, nconn, total, done, total - done, non2xx,
           (double)done * 1e6 / (double)elapsed, (long long)PCT(0.50), (long long)PCT(0.90),
           (long long)PCT(0.99), (long long)PCT(0.999), (long long)(done ? lat[done - 1] : 0));
    for (int i = 0; i < nconn; i++)
        close(c[i].fd);
    free(c);
    free(lat);
    return done == total && non2xx == 0 ? 0 : 1;
}
