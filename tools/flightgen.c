/*
 * flightgen — a deterministic source of airline flight events as NDJSON.
 *
 * Writes rows for schema/flights.json: real carriers, airports and aircraft,
 * routes fixed per (carrier, flight number), great-circle distances, weighted
 * statuses with delays and times that agree with them. The same arguments give
 * byte-identical output (own PRNG, no clock unless --follow without --start),
 * so tests can generate, ingest and compare. event_time only moves forward
 * and about 1% of rows repeat the previous row's event_time exactly, which
 * keyset pagination must get right.
 *
 *   flightgen [--rows N] [--seed S] [--start RFC3339|now] [--rate-per-sec R]
 *             [--malformed-pct P] [--manifest FILE] [--follow]
 *
 * --malformed-pct P makes P% of the lines invalid in varied ways; --manifest
 * writes one line per emitted line, "ok" or "bad:<kind>", so a test knows
 * exactly which ones colibri must reject. libc (and libm) only.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct airport { char code[4]; double lat, lon; };   /* in region order, see regions */
struct carrier { char code[3]; const char *reg; const char *hubs; bool domestic; };
struct aircraft { char type[5]; int seats; };

static const struct airport airports[] = {
    {"ATL", 33.64, -84.43}, {"LAX", 33.94, -118.41}, {"ORD", 41.98, -87.90},
    {"DFW", 32.90, -97.04}, {"DEN", 39.86, -104.67}, {"JFK", 40.64, -73.78},
    {"SFO", 37.62, -122.38}, {"SEA", 47.45, -122.31}, {"LAS", 36.08, -115.15},
    {"MCO", 28.43, -81.31}, {"MIA", 25.79, -80.29}, {"BOS", 42.36, -71.01},
    {"PHX", 33.43, -112.01}, {"IAH", 29.98, -95.34}, {"EWR", 40.69, -74.17},
    {"MSP", 44.88, -93.22}, {"DTW", 42.21, -83.35}, {"CLT", 35.21, -80.94},
    {"YYZ", 43.68, -79.63}, {"YVR", 49.19, -123.18}, {"MEX", 19.44, -99.07},
    {"CUN", 21.04, -86.87}, {"BOG", 4.70, -74.15}, {"MDE", 6.16, -75.42},
    {"PTY", 9.07, -79.38}, {"LIM", -12.02, -77.11}, {"SCL", -33.39, -70.79},
    {"GRU", -23.43, -46.47}, {"GIG", -22.81, -43.25}, {"EZE", -34.82, -58.54},
    {"LHR", 51.47, -0.45}, {"CDG", 49.01, 2.55}, {"AMS", 52.31, 4.76},
    {"FRA", 50.03, 8.56}, {"MUC", 48.35, 11.79}, {"MAD", 40.47, -3.56},
    {"BCN", 41.30, 2.08}, {"LIS", 38.77, -9.13}, {"FCO", 41.80, 12.25},
    {"ZRH", 47.46, 8.55}, {"VIE", 48.11, 16.57}, {"CPH", 55.62, 12.66},
    {"ARN", 59.65, 17.92}, {"OSL", 60.19, 11.10}, {"DUB", 53.42, -6.27},
    {"IST", 41.26, 28.74}, {"DXB", 25.25, 55.36}, {"DOH", 25.27, 51.61},
    {"CAI", 30.12, 31.41}, {"JNB", -26.14, 28.24}, {"CPT", -33.97, 18.60},
    {"DEL", 28.56, 77.10}, {"BOM", 19.09, 72.87}, {"BKK", 13.69, 100.75},
    {"SIN", 1.36, 103.99}, {"HKG", 22.31, 113.91}, {"PEK", 40.08, 116.58},
    {"PVG", 31.14, 121.81}, {"ICN", 37.46, 126.44}, {"HND", 35.55, 139.78},
    {"NRT", 35.77, 140.39}, {"SYD", -33.95, 151.18}, {"MEL", -37.67, 144.84},
    {"AKL", -37.01, 174.79},
};
#define NAIR (sizeof airports / sizeof airports[0])

/* First airport index of each region: North America, Latin America, Europe,
 * Middle East and Africa, Asia and Oceania; then the end. */
static const unsigned char regions[] = {0, 20, 30, 46, 51, NAIR};
#define NREGION (sizeof regions - 1)

static const struct carrier carriers[] = {
    {"AA", "N", "DFW CLT MIA ORD", false}, {"DL", "N", "ATL DTW MSP JFK", false},
    {"UA", "N", "ORD EWR SFO IAH DEN", false},
    {"WN", "N", "DEN LAS PHX", true}, {"B6", "N", "JFK BOS", true}, {"AS", "N", "SEA", true},
    {"AC", "C-F", "YYZ YVR", false}, {"AM", "XA-", "MEX", false}, {"LA", "CC-", "SCL LIM GRU", false},
    {"AV", "HK-", "BOG MDE", false}, {"CM", "HP-", "PTY", false}, {"BA", "G-", "LHR", false},
    {"AF", "F-G", "CDG", false}, {"KL", "PH-", "AMS", false}, {"LH", "D-A", "FRA MUC", false},
    {"IB", "EC-", "MAD", false}, {"TK", "TC-", "IST", false}, {"EK", "A6-", "DXB", false},
    {"QR", "A7-", "DOH", false}, {"SQ", "9V-", "SIN", false}, {"NH", "JA", "HND NRT", false},
    {"QF", "VH-", "SYD MEL", false},
};
#define NCARRIER (sizeof carriers / sizeof carriers[0])

/* By mission: regional, narrow-body, wide-body, ultra long haul. */
static const struct aircraft fleet[4][5] = {
    {{"E190", 100}, {"E195", 120}, {"A319", 144}, {"A320", 180}, {"B738", 189}},
    {{"A320", 180}, {"A20N", 186}, {"A321", 220}, {"B738", 189}, {"B38M", 178}},
    {{"B789", 296}, {"A359", 325}, {"A333", 300}, {"B77W", 396}, {"B763", 211}},
    {{"A359", 325}, {"B77W", 396}, {"B789", 296}, {"A388", 517}, {"A35K", 350}},
};

enum status { ST_SCHEDULED, ST_BOARDING, ST_DEPARTED, ST_LANDED, ST_DELAYED, ST_CANCELLED,
              ST_DIVERTED, ST_COUNT };
static const char *const status_names[ST_COUNT] = {
    "scheduled", "boarding", "departed", "landed", "delayed", "cancelled", "diverted",
};
static const unsigned status_weight[ST_COUNT] = {25, 10, 20, 30, 10, 3, 2};   /* of 100 */

enum bad { BAD_NONE, BAD_NOTJSON, BAD_ARRAY, BAD_TRUNCATED, BAD_MISSING, BAD_NULL, BAD_INT,
           BAD_TIMESTAMP, BAD_DATE, BAD_TYPE, BAD_BOOL, BAD_COUNT };
static const char *const bad_names[BAD_COUNT] = {
    "", "notjson", "array", "truncated", "missing", "null", "int", "timestamp", "date",
    "type", "bool",
};

#define LINE_MAX_LEN 1024
#define OUT_BUF (1u << 20)

struct gen {
    uint64_t rng, seed;
    int64_t t_us;               /* event time of the last row */
    uint64_t step_us;           /* mean step between rows */
    double dist[NAIR][NAIR];
    unsigned char hubs[NCARRIER][5], nhubs[NCARRIER], region[NCARRIER];
    int64_t day_key[16];        /* tiny cache: day number → "YYYY-MM-DD" */
    char day_txt[16][11];
};

/* splitmix64: small, fast, and good enough for test data. */
static uint64_t next(struct gen *g)
{
    uint64_t z = (g->rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t mix(uint64_t x)
{
    struct gen tmp = {.rng = x};
    return next(&tmp);
}

/* Uniform in [0, n), n < 2^32. */
static uint64_t below(struct gen *g, uint64_t n)
{
    return (next(g) >> 32) * n >> 32;
}

static double unit(struct gen *g)
{
    return (double)(next(g) >> 11) * 0x1.0p-53;
}

static double haversine_km(const struct airport *a, const struct airport *b)
{
    double r = M_PI / 180, dlat = (b->lat - a->lat) * r, dlon = (b->lon - a->lon) * r;
    double h = sin(dlat / 2) * sin(dlat / 2) +
               cos(a->lat * r) * cos(b->lat * r) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * 6371.0 * asin(sqrt(h));
}

static int airport_index(const char *code)
{
    for (size_t i = 0; i < NAIR; i++)
        if (!memcmp(airports[i].code, code, 3))
            return (int)i;
    return -1;
}

static void gen_init(struct gen *g, uint64_t seed, int64_t start_us, uint64_t step_us)
{
    memset(g, 0, sizeof *g);
    g->seed = seed;
    g->rng = mix(seed);
    g->t_us = start_us;
    g->step_us = step_us ? step_us : 1;
    for (size_t i = 0; i < NAIR; i++)
        for (size_t j = 0; j < NAIR; j++)
            g->dist[i][j] = haversine_km(&airports[i], &airports[j]);
    for (size_t c = 0; c < NCARRIER; c++)
        for (const char *h = carriers[c].hubs; *h; h += h[3] ? 4 : 3) {
            int a = airport_index(h);
            if (a >= 0 && g->nhubs[c] < 5)
                g->hubs[c][g->nhubs[c]++] = (unsigned char)a;
        }
    for (size_t c = 0; c < NCARRIER; c++)
        for (size_t r = 0; r < NREGION; r++)
            if (g->hubs[c][0] >= regions[r] && g->hubs[c][0] < regions[r + 1])
                g->region[c] = (unsigned char)r;
    for (size_t i = 0; i < 16; i++)
        g->day_key[i] = INT64_MIN;
}

/* ---- hand-rolled formatting: the generator must outrun the service ---- */

static char *put(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *put_uint(char *p, uint64_t v, int width)
{
    char tmp[24];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width)
        tmp[n++] = '0';
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_int(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_uint(p, 0 - (uint64_t)v, 1);
    }
    return put_uint(p, (uint64_t)v, 1);
}

static char *put_hex(char *p, uint64_t v, int width)
{
    char tmp[20];
    int n = 0;

    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    while (n < width)
        tmp[n++] = '0';
    while (n)
        *p++ = tmp[--n];
    return p;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b < 0);
}

static const char *day_text(struct gen *g, int64_t day)
{
    size_t k = (size_t)day & 15;
    struct tm tm;
    time_t t;

    if (g->day_key[k] != day) {
        t = (time_t)(day * 86400);
        gmtime_r(&t, &tm);
        char *p = g->day_txt[k];
        p = put_uint(p, (uint64_t)tm.tm_year + 1900, 4);
        *p++ = '-';
        p = put_uint(p, (uint64_t)tm.tm_mon + 1, 2);
        *p++ = '-';
        p = put_uint(p, (uint64_t)tm.tm_mday, 2);
        *p = '\0';
        g->day_key[k] = day;
    }
    return g->day_txt[k];
}

/* "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" */
static char *put_time(struct gen *g, char *p, int64_t us, bool micros)
{
    int64_t s = floor_div(us, 1000000), day = floor_div(s, 86400), sod = s - day * 86400;

    p = put(p, day_text(g, day));
    *p++ = 'T';
    p = put_uint(p, (uint64_t)sod / 3600, 2);
    *p++ = ':';
    p = put_uint(p, (uint64_t)sod / 60 % 60, 2);
    *p++ = ':';
    p = put_uint(p, (uint64_t)sod % 60, 2);
    if (micros) {
        *p++ = '.';
        p = put_uint(p, (uint64_t)(us - s * 1000000), 6);
    }
    *p++ = 'Z';
    return p;
}

static char *put_key(char *p, const char *key)
{
    *p++ = ',';
    *p++ = '"';
    p = put(p, key);
    *p++ = '"';
    *p++ = ':';
    return p;
}

static char *put_qstr(char *p, const char *s)
{
    *p++ = '"';
    p = put(p, s);
    *p++ = '"';
    return p;
}

/* ---- one event ---------------------------------------------------------- */

static enum status pick_status(struct gen *g)
{
    unsigned r = (unsigned)below(g, 100), acc = 0;

    for (int s = 0; s < ST_COUNT; s++)
        if (r < (acc += status_weight[s]))
            return (enum status)s;
    return ST_LANDED;
}

/* Departure delay in minutes for a flight that left. */
static int64_t pick_delay(struct gen *g)
{
    unsigned r = (unsigned)below(g, 100);

    if (r < 55)
        return (int64_t)below(g, 16) - 10;      /* -10 .. 5 */
    if (r < 80)
        return 6 + (int64_t)below(g, 10);       /* 6 .. 15: still on time */
    if (r < 95)
        return 16 + (int64_t)below(g, 75);
    return 91 + (int64_t)below(g, 270);
}

static int64_t round5min(int64_t s)
{
    return floor_div(s + 150, 300) * 300;
}

/* Write one line (without '\n') for the next event; returns its length. */
static size_t make_row(struct gen *g, uint64_t row, enum bad bad, char *line)
{
    char *p = line;
    enum status st;
    size_t c, o, d, mission;
    uint64_t fn, h, step, lo, nreg;
    int64_t sched, actual = 0, delay = 0, ev_s;
    bool has_actual = false, has_delay = false, has_on_time = false, on_time = false;
    double dist;
    const struct aircraft *ac;

    /* ~1% of rows share the previous event time; others step 1 µs .. 2×mean. */
    step = below(g, 100) == 0 ? 0 : 1 + below(g, 2 * g->step_us);
    g->t_us += (int64_t)step;
    ev_s = floor_div(g->t_us, 1000000);

    c = (size_t)below(g, NCARRIER);
    fn = below(g, 5) ? 1 + below(g, 999) : 1000 + below(g, 8999);
    /* The route belongs to the flight number: from a hub or elsewhere in the
     * carrier's region, to its region or (not for domestic carriers) anywhere. */
    h = mix(c << 32 | fn);
    lo = regions[g->region[c]];
    nreg = (uint64_t)regions[g->region[c] + 1] - lo;
    o = (h >> 8) % 4 ? g->hubs[c][(h >> 12) % g->nhubs[c]] : lo + (size_t)((h >> 16) % nreg);
    if (carriers[c].domestic || (h >> 20) % 5 < 3)
        d = lo + (size_t)((h >> 24) % nreg);
    else
        d = (size_t)((h >> 24) % NAIR);
    if (d == o)
        d = lo + (d - lo + 1 + (h >> 40) % (nreg - 1)) % nreg;
    if (fn % 2 == 0) {                  /* even numbers fly back to the hub */
        size_t t = o;
        o = d;
        d = t;
    }
    dist = g->dist[o][d];
    mission = dist < 1200 ? 0 : dist < 5500 ? 1 : dist < 12000 ? 2 : 3;
    ac = &fleet[mission][(h >> 48) % 5];

    st = pick_status(g);
    switch (st) {
    case ST_SCHEDULED:
        sched = round5min(ev_s + 3600 + (int64_t)below(g, 35 * 3600));
        break;
    case ST_BOARDING:
        sched = round5min(ev_s + 600 + (int64_t)below(g, 1800));
        delay = (int64_t)below(g, 6);
        has_delay = true;
        break;
    case ST_DELAYED:
        sched = round5min(ev_s - 3600 + (int64_t)below(g, 4 * 3600));
        delay = 16 + (int64_t)(unit(g) * unit(g) * 285);
        has_delay = has_on_time = true;
        break;
    case ST_CANCELLED:
        sched = round5min(ev_s - 3 * 3600 + (int64_t)below(g, 27 * 3600));
        has_on_time = true;
        break;
    default: {                          /* departed, landed, diverted: it left */
        int64_t ago = st == ST_DEPARTED ? (int64_t)below(g, 1800)
                    : st == ST_LANDED ? (int64_t)(dist / 820 * 3600) + 1800 +
                                        (int64_t)below(g, 1200)
                    : 1800 + (int64_t)below(g, 5 * 3600);
        delay = pick_delay(g);
        sched = round5min(ev_s - ago - delay * 60);
        actual = sched + delay * 60;
        has_actual = has_delay = has_on_time = true;
        on_time = delay <= 15;
        break;
    }
    }

    p = put(p, "{\"event_id\":\"");
    p = put_hex(p, g->seed, 1);
    *p++ = '-';
    p = put_hex(p, row, 8);
    *p++ = '"';
    if (!(bad == BAD_MISSING && row % 3 == 0)) {
        p = put_key(p, "event_time");
        *p++ = '"';
        if (bad == BAD_TIMESTAMP) {
            p = put(p, row % 2 ? day_text(g, floor_div(ev_s, 86400)) : "2026-02-30");
            p = put(p, row % 2 ? "T24:00:00Z" : "T10:00:00Z");
        } else {
            p = put_time(g, p, g->t_us, true);
        }
        *p++ = '"';
    }
    p = put_key(p, "flight_id");
    *p++ = '"';
    p = put(p, carriers[c].code);
    p = put_uint(p, fn, 1);
    *p++ = '-';
    p = put(p, day_text(g, floor_div(sched, 86400)));
    *p++ = '"';
    p = put_key(p, "flight_date");
    if (bad == BAD_DATE)
        p = put(p, row % 2 ? "\"2026-13-01\"" : "20260101");
    else
        p = put_qstr(p, day_text(g, floor_div(sched, 86400)));
    if (!(bad == BAD_MISSING && row % 3 == 1)) {
        p = put_key(p, "carrier");
        p = bad == BAD_TYPE ? put(p, "42") : put_qstr(p, carriers[c].code);
    }
    p = put_key(p, "flight_number");
    if (bad == BAD_INT) {
        *p++ = '"';
        p = put_uint(p, fn, 1);
        p = put(p, row % 2 ? "abc\"" : ".5\"");
    } else {
        p = put_uint(p, fn, 1);
    }
    p = put_key(p, "origin");
    p = bad == BAD_NULL ? put(p, "null") : put_qstr(p, airports[o].code);
    if (!(bad == BAD_MISSING && row % 3 == 2)) {
        p = put_key(p, "destination");
        p = put_qstr(p, airports[d].code);
    }
    p = put_key(p, "scheduled_departure");
    *p++ = '"';
    p = put_time(g, p, sched * 1000000, false);
    *p++ = '"';
    p = put_key(p, "actual_departure");
    if (has_actual) {
        *p++ = '"';
        p = put_time(g, p, actual * 1000000, false);
        *p++ = '"';
    } else {
        p = put(p, "null");
    }
    p = put_key(p, "status");
    p = put_qstr(p, status_names[st]);
    p = put_key(p, "delay_minutes");
    p = has_delay ? put_int(p, delay) : put(p, "null");
    p = put_key(p, "on_time");
    p = bad == BAD_BOOL ? put(p, "\"maybe\"") :
        !has_on_time ? put(p, "null") : put(p, on_time ? "true" : "false");
    /* 1% of rows do not know the equipment: half say null, half leave it out. */
    if (below(g, 100) != 0) {
        uint64_t th = mix(h ^ (uint64_t)floor_div(sched, 86400));
        int64_t pax = st == ST_CANCELLED ? 0 : (int64_t)(ac->seats * (0.55 + 0.45 * sqrt(unit(g))));

        p = put_key(p, "aircraft");
        p = put_qstr(p, ac->type);
        p = put_key(p, "tail_number");
        *p++ = '"';
        char *tail = p;                 /* N123AB, JA801A, CC-BAW, G-EUPA */
        p = put(p, carriers[c].reg);
        if (!strcmp(carriers[c].reg, "N") || !strcmp(carriers[c].reg, "JA")) {
            p = put_uint(p, 100 + th % 900, 3);
            th /= 900;
        }
        while (p - tail < 6) {
            *p++ = (char)('A' + th % 26);
            th /= 26;
        }
        *p++ = '"';
        p = put_key(p, "capacity");
        p = put_int(p, ac->seats);
        p = put_key(p, "passengers");
        p = put_int(p, pax);
    } else if (below(g, 2)) {
        p = put(p, ",\"aircraft\":null,\"tail_number\":null,\"capacity\":null,\"passengers\":null");
    }
    p = put_key(p, "distance_km");
    int64_t tenths = (int64_t)(dist * 10 + 0.5);
    p = put_int(p, tenths / 10);
    *p++ = '.';
    *p++ = (char)('0' + tenths % 10);
    *p++ = '}';

    switch (bad) {
    case BAD_NOTJSON:
        p = line;
        p = put(p, "not json: flight ");
        p = put(p, carriers[c].code);
        p = put_uint(p, fn, 1);
        p = put(p, row % 2 ? " delayed" : " {oops");
        break;
    case BAD_ARRAY:
        memmove(line + 1, line, (size_t)(p - line));
        *line = '[';
        p++;
        *p++ = ']';
        break;
    case BAD_TRUNCATED:         /* any proper prefix of an object is not JSON */
        p = line + 1 + below(g, (uint64_t)(p - line) - 1);
        break;
    default:
        break;
    }
    return (size_t)(p - line);
}

/* ---- options, pacing, output -------------------------------------------- */

static int parse_start(const char *s, int64_t *out_us)
{
    int y, mo, d, hh, mi, ss, n = 0, oh = 0, om = 0;
    struct tm tm = {0};
    long frac = 0;
    int fd = 0;

    if (!strcmp(s, "now")) {
        *out_us = (int64_t)time(NULL) * 1000000;
        return 0;
    }
    if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &hh, &mi, &ss, &n) != 6)
        return -1;
    s += n;
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++, fd++)
            if (fd < 6)
                frac = frac * 10 + (*s - '0');
    for (; fd < 6; fd++)
        frac *= 10;
    if ((*s == '+' || *s == '-') && sscanf(s + 1, "%2d:%2d", &oh, &om) == 2 && strlen(s) == 6) {
        if (*s == '-')
            oh = -oh, om = -om;
    } else if (strcmp(s, "Z") && strcmp(s, "z")) {
        return -1;
    }
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
    tm.tm_hour = hh, tm.tm_min = mi, tm.tm_sec = ss;
    *out_us = ((int64_t)timegm(&tm) - oh * 3600 - om * 60) * 1000000 + frac;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;

    errno = 0;
    *out = strtoull(s, &end, 0);
    return errno || end == s || *end || *s == '-' ? -1 : 0;
}

static void usage(FILE *f)
{
    fputs("usage: flightgen [--rows N] [--seed S] [--start RFC3339|now] [--rate-per-sec R]\n"
          "                 [--malformed-pct P] [--manifest FILE] [--follow]\n"
          "Writes N (default 1000) NDJSON flight events for schema/flights.json to stdout.\n"
          "The same options give the same bytes. --manifest FILE gets one line per\n"
          "emitted line: \"ok\" or \"bad:<kind>\". --follow runs until killed.\n", f);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int flush_out(char *buf, size_t *len, FILE *manifest)
{
    if (*len && fwrite(buf, 1, *len, stdout) != *len)
        return -1;
    *len = 0;
    if (fflush(stdout) != 0 || (manifest && fflush(manifest) != 0))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"rows", required_argument, NULL, 'n'}, {"seed", required_argument, NULL, 's'},
        {"start", required_argument, NULL, 't'}, {"rate-per-sec", required_argument, NULL, 'r'},
        {"malformed-pct", required_argument, NULL, 'm'},
        {"manifest", required_argument, NULL, 'M'}, {"follow", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    uint64_t rows = 1000, seed = 1, rate = 0, chunk;
    int64_t start_us = 1767225600LL * 1000000, t0 = 0;  /* 2026-01-01T00:00:00Z */
    bool follow = false, have_start = false;
    double pct = 0;
    const char *manifest_path = NULL;
    FILE *manifest = NULL;
    static struct gen g;
    char *out = NULL, *end;
    size_t len = 0;
    int opt, rc = 1;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'n': if (parse_u64(optarg, &rows)) goto bad_arg; break;
        case 's': if (parse_u64(optarg, &seed)) goto bad_arg; break;
        case 'r': if (parse_u64(optarg, &rate)) goto bad_arg; break;
        case 't': if (parse_start(optarg, &start_us)) goto bad_arg; have_start = true; break;
        case 'm':
            pct = strtod(optarg, &end);
            if (end == optarg || *end || !(pct >= 0 && pct <= 100))
                goto bad_arg;
            break;
        case 'M': manifest_path = optarg; break;
        case 'f': follow = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (follow && !have_start)
        parse_start("now", &start_us);
    /* With a rate, event time advances about as fast as the wall clock. */
    gen_init(&g, seed, start_us, rate ? 1000000 / rate : 500000);
    if (manifest_path && !(manifest = fopen(manifest_path, "w"))) {
        fprintf(stderr, "flightgen: %s: %s\n", manifest_path, strerror(errno));
        return 1;
    }
    out = malloc(OUT_BUF);
    if (!out)
        goto out;
    chunk = rate ? (rate + 99) / 100 : 0;
    if (rate)
        t0 = mono_ns();
    for (uint64_t i = 0; follow || i < rows; i++) {
        enum bad bad = BAD_NONE;

        if (pct > 0 && unit(&g) * 100 < pct)
            bad = (enum bad)(1 + below(&g, BAD_COUNT - 1));
        len += make_row(&g, i, bad, out + len);
        out[len++] = '\n';
        if (manifest) {
            fputs(bad ? "bad:" : "ok", manifest);
            if (bad)
                fputs(bad_names[bad], manifest);
            fputc('\n', manifest);
        }
        if (len > OUT_BUF - LINE_MAX_LEN) {
            if (fwrite(out, 1, len, stdout) != len)
                goto out;
            len = 0;
        }
        if (rate && (i + 1) % chunk == 0) {
            int64_t due = t0 + (int64_t)((double)(i + 1) * 1e9 / (double)rate);
            if (mono_ns() < due) {
                struct timespec ts = {.tv_sec = due / 1000000000, .tv_nsec = due % 1000000000};
                if (flush_out(out, &len, manifest))
                    goto out;
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                    ;
            }
        }
    }
    if (flush_out(out, &len, manifest) == 0)
        rc = 0;
out:
    if (rc)
        fprintf(stderr, "flightgen: write failed: %s\n", strerror(errno));
    if (manifest && fclose(manifest) != 0)
        rc = 1;
    free(out);
    return rc;
bad_arg:
    fprintf(stderr, "flightgen: bad option value: %s\n", optarg);
    usage(stderr);
    return 2;
}
