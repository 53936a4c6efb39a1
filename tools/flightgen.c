/*
 * flightgen — a deterministic source of airline flight events as NDJSON.
 *
 * Writes rows for schema/flights.json: real carriers, airports and aircraft,
 * routes fixed per (carrier, flight number), great-circle distances, weighted
 * statuses with delays and times that agree with them, an exact fare, and the
 * flight's segments (two for long flights that stop at a hub). The same arguments give
 * byte-identical output (own PRNG, no clock unless --follow without --start),
 * so tests can generate, ingest and compare. event_time only moves forward
 * and about 1% of rows repeat the previous row's event_time exactly, which
 * keyset pagination must get right.
 *
 *   flightgen [--schema flights|payments] [--rows N] [--seed S]
 *             [--start RFC3339|now] [--rate-per-sec R]
 *             [--malformed-pct P] [--manifest FILE] [--follow]
 *
 * --malformed-pct P makes P% of the lines invalid in varied ways; --manifest
 * writes one line per emitted line, "ok" or "bad:<kind>", so a test knows
 * exactly which ones colibri must reject. libc (and libm) only.
 *
 * --schema payments writes payments for schema/examples/payments.json instead
 * (issue 18's nested example): exact decimal amounts in the merchant's currency
 * (the sum of 1-6 line items), BIGNUMERIC fees (converted ones with 12 more
 * decimals), 0-5 tags, a card record (brand, last4, expiry), a customer with a
 * nested address, the processor's JSON answer, a base64 SHA-256 fingerprint,
 * DATE/DATETIME/TIME settlement fields in the forms producers send, and a WKT
 * POINT. Its malformed kinds are the type system's: NUMERIC out of range or
 * too fine, bad base64 or WKT, REQUIRED missing in a record, null in an array,
 * a record or array of the wrong shape, a bad DATETIME or TIME.
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

#define LINE_MAX_LEN 4096
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

/* Kilometres with one decimal ("1234.5"). */
static char *put_km(char *p, double km)
{
    int64_t tenths = (int64_t)(km * 10 + 0.5);

    p = put_int(p, tenths / 10);
    *p++ = '.';
    *p++ = (char)('0' + tenths % 10);
    return p;
}

/* ,"fare":"…","segments":[…] of a flight. Drawn from the route's hash, not from the
 * generator's stream, so every other field stays what it was before these columns. The
 * lowest economy fare in USD (null once cancelled); one segment, or two for the long
 * flights that stop at one of the carrier's hubs on the way. */
static char *put_fare_segments(struct gen *g, char *p, uint64_t h, size_t c, uint64_t fn, size_t o,
                               size_t d, enum status st, int64_t sched, int64_t actual, bool has_actual)
{
    uint64_t hf = mix(h ^ (uint64_t)sched);
    size_t via = g->hubs[c][(hf >> 8) % g->nhubs[c]];
    bool stop = g->dist[o][d] > 3000 && (h >> 56) % 8 == 0 && via != o && via != d;
    size_t legs[3] = {o, stop ? via : d, d};
    int64_t dep = has_actual ? actual : sched;

    p = put_key(p, "fare");
    if (st == ST_CANCELLED) {
        p = put(p, "null");
    } else {
        /* 40 USD plus 6-13 US cents a kilometre, to the cent */
        uint64_t cents = 4000 + (uint64_t)(g->dist[o][d] * (6 + (double)(hf % 700) / 100));
        *p++ = '"';
        p = put_uint(p, cents / 100, 1);
        *p++ = '.';
        p = put_uint(p, cents % 100, 2);
        *p++ = '"';
    }
    p = put_key(p, "segments");
    *p++ = '[';
    for (int k = 0; k < (stop ? 2 : 1); k++) {
        double km = g->dist[legs[k]][legs[k + 1]];
        int64_t arr = (dep + (int64_t)(km / 820 * 3600) + 1800) / 60 * 60;

        p = put(p, k ? ",{\"origin\":" : "{\"origin\":");
        p = put_qstr(p, airports[legs[k]].code);
        p = put(p, ",\"destination\":");
        p = put_qstr(p, airports[legs[k + 1]].code);
        p = put(p, ",\"departure\":\"");
        p = put_time(g, p, dep * 1000000, false);
        p = put(p, "\",\"arrival\":\"");
        p = put_time(g, p, arr * 1000000, false);
        p = put(p, "\",\"flight_number\":");
        p = put_uint(p, fn, 1);
        p = put(p, ",\"distance_km\":");
        p = put_km(p, km);
        *p++ = '}';
        dep = round5min(arr + 3600 + (int64_t)(hf >> 40) % 3600);      /* a stop of 1-2 hours */
    }
    *p++ = ']';
    return p;
}

/* Write one line (without '\n') for the next flight event; returns its length. */
static size_t make_flight(struct gen *g, uint64_t row, int bad_kind, char *line, const char **path)
{
    enum bad bad = (enum bad)bad_kind;
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
    p = put_km(p, dist);
    p = put_fare_segments(g, p, h, c, fn, o, d, st, sched, actual, has_actual);
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

/* ---- one payment (schema/examples/payments.json) ------------------------ */

/* Merchants sit in these cities and charge in their currency. */
struct city { const char *name, *country, *currency; int decimals; double lat, lon; };
static const struct city cities[] = {
    {"New York", "US", "USD", 2, 40.7128, -74.0060}, {"San Francisco", "US", "USD", 2, 37.7749, -122.4194},
    {"Chicago", "US", "USD", 2, 41.8781, -87.6298}, {"Berlin", "DE", "EUR", 2, 52.5200, 13.4050},
    {"Madrid", "ES", "EUR", 2, 40.4168, -3.7038}, {"Paris", "FR", "EUR", 2, 48.8566, 2.3522},
    {"London", "GB", "GBP", 2, 51.5074, -0.1278}, {"Santiago", "CL", "CLP", 0, -33.4489, -70.6693},
    {"Valparaíso", "CL", "CLP", 0, -33.0472, -71.6127}, {"Tokyo", "JP", "JPY", 0, 35.6762, 139.6503},
    {"Ōsaka", "JP", "JPY", 0, 34.6937, 135.5023}, {"São Paulo", "BR", "BRL", 2, -23.5505, -46.6333},
    {"Ciudad de México", "MX", "MXN", 2, 19.4326, -99.1332}, {"Kuwait City", "KW", "KWD", 3, 29.3759, 47.9774},
    {"Zürich", "CH", "CHF", 2, 47.3769, 8.5417},
};
#define NCITY (sizeof cities / sizeof cities[0])
#define NMERCHANT 200
#define NSKU 40             /* per merchant catalogue */

enum pstatus { PS_AUTHORIZED, PS_CAPTURED, PS_SETTLED, PS_REFUNDED, PS_FAILED, PS_DISPUTED, PS_COUNT };
static const char *const pstatus_names[PS_COUNT] = {
    "authorized", "captured", "settled", "refunded", "failed", "disputed",
};
static const unsigned pstatus_weight[PS_COUNT] = {12, 38, 32, 8, 7, 3};     /* of 100 */

static const char *const brands[] = {"VISA", "MASTERCARD", "AMEX", "DISCOVER", "JCB", "DINERS"};
static const unsigned brand_weight[] = {48, 34, 9, 4, 3, 2};                /* of 100 */
/* In schema order of the tag list a producer would write; each with its chance in 100. */
static const char *const tag_names[] = {"recurring", "3ds", "first_purchase", "wallet", "installments",
                                        "promo", "international", "high_risk", "manual_review"};
static const unsigned tag_chance[] = {20, 35, 12, 18, 8, 10, 0, 6, 4};     /* international: from the fee */
#define NTAG (sizeof tag_names / sizeof tag_names[0])
static const char *const processors[] = {"adyen", "stripe", "worldpay", "transbank", "getnet"};
static const char *const cutoffs[] = {"17:00:00", "18:30:00", "20:00:00.5", "23:59:59.999999",
                                      "00:00:00", "16:45:00.250"};

enum pbad { PB_NONE, PB_NOTJSON, PB_MISSING, PB_NUMERIC_RANGE, PB_NUMERIC_SCALE, PB_BIGNUMERIC_SCALE,
            PB_BASE64, PB_WKT, PB_RECORD_REQUIRED, PB_ARRAY_NULL, PB_RECORD_TYPE, PB_ARRAY_TYPE,
            PB_ITEM_TYPE, PB_DATETIME, PB_TIME, PB_COUNT };
static const char *const pbad_names[PB_COUNT] = {
    "", "notjson", "missing", "numeric_range", "numeric_scale", "bignumeric_scale", "base64", "wkt",
    "record_required", "array_null", "record_type", "array_type", "item_type", "datetime", "time",
};

typedef unsigned __int128 u128;

/* |v| / 10^scale as decimal text, every fractional digit kept ("12.50", "1500"). */
static char *put_dec(char *p, bool neg, u128 v, int scale)
{
    char tmp[48];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v || n <= scale);
    if (neg)
        *p++ = '-';
    while (n) {
        if (n == scale)
            *p++ = '.';
        *p++ = tmp[--n];
    }
    return p;
}

/* A coordinate in 1e-5 degrees, with no trailing fractional zeros ("-70.6693", "8"). */
static char *put_coord(char *p, int64_t e5)
{
    u128 v = (u128)(e5 < 0 ? -e5 : e5);
    int scale = 5;

    while (scale && v % 10 == 0) {
        v /= 10;
        scale--;
    }
    return put_dec(p, e5 < 0, v, scale);
}

static char *put_base64(char *p, const unsigned char *b, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0) |
                     (i + 2 < n ? b[i + 2] : 0);
        *p++ = abc[w >> 18 & 63];
        *p++ = abc[w >> 12 & 63];
        *p++ = i + 1 < n ? abc[w >> 6 & 63] : '=';
        *p++ = i + 2 < n ? abc[w & 63] : '=';
    }
    return p;
}

static char *put_alnum(char *p, uint64_t h, int n)
{
    while (n--) {
        *p++ = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"[h % 32];
        h /= 32;
    }
    return p;
}

static unsigned pick_weighted(struct gen *g, const unsigned *w, unsigned n)
{
    unsigned r = (unsigned)below(g, 100), acc = 0;

    for (unsigned i = 0; i < n; i++)
        if (r < (acc += w[i]))
            return i;
    return 0;
}

/* Wall-clock "YYYY-MM-DD?HH:MM:SS[.f]" for a DATETIME, in one of the forms producers send. */
static char *put_datetime(struct gen *g, char *p, int64_t us, unsigned form)
{
    char *t = p;

    p = put_time(g, p, us, form != 1);
    p--;                                    /* no zone: drop the 'Z' */
    if (form == 1)
        t[10] = ' ';
    else if (form == 2)
        p -= 3;                             /* milliseconds only */
    return p;
}

static size_t make_payment(struct gen *g, uint64_t row, int bad_kind, char *line, const char **path)
{
    enum pbad bad = (enum pbad)bad_kind;
    static char pathbuf[32];    /* the manifest's field path, when it has an index */
    char *p = line;
    uint64_t step, m, hm, nitems, sku[6], qty[6];
    u128 price[6], amount = 0, fee = 0;
    int dec, fee_scale = 0;
    const struct city *city;
    enum pstatus st;
    bool fx = false, has_fee;
    int64_t created_s;

    step = below(g, 100) == 0 ? 0 : 1 + below(g, 2 * g->step_us);
    g->t_us += (int64_t)step;
    created_s = floor_div(g->t_us, 1000000);

    /* A merchant's city, catalogue and cut-off belong to it, whatever the seed. */
    m = 1 + below(g, NMERCHANT);
    hm = mix(0x7061790000000000u | m);
    city = &cities[hm % NCITY];
    dec = city->decimals;
    st = (enum pstatus)pick_weighted(g, pstatus_weight, PS_COUNT);

    nitems = 1 + below(g, 3) + (below(g, 4) == 0 ? below(g, 4) : 0);      /* 1..6, mostly 1..3 */
    for (uint64_t k = 0; k < nitems; k++) {
        uint64_t hs;

        sku[k] = below(g, NSKU);
        hs = mix(hm ^ (sku[k] + 1) * 0x9e3779b97f4a7c15u);
        /* 0.50 .. 1342.72 in the major unit, log-spread; 500 .. 1342720 where there are no
         * cents (CLP, JPY); KWD has mils */
        price[k] = (u128)((hs >> 20) % 1000 + 50) * (u128)((uint64_t)1 << (hs >> 8) % 8);
        if (dec == 0)
            price[k] *= 10;
        else if (dec == 3)
            price[k] = price[k] * 3 + (hs >> 40) % 10;
        qty[k] = below(g, 10) < 7 ? 1 : 1 + below(g, 4);
        amount += price[k] * qty[k];
    }

    /* Fee: a rate in 1/10000 of the amount plus a fixed part (scale dec + 4); converted
     * (international cards) through a rate with 12 decimals, exact. */
    has_fee = st != PS_AUTHORIZED && st != PS_FAILED;
    if (has_fee) {
        u128 fixed = dec == 0 ? 0 : (u128)(dec == 2 ? 30 : 100);
        fee = amount * (150 + below(g, 250)) + fixed * 10000;
        fee_scale = dec + 4;
        if (below(g, 100) < 15) {
            fx = true;
            fee *= (u128)(800000000000u + below(g, 400000000000u));
            fee_scale += 12;
        }
    }

    p = put(p, "{\"payment_id\":\"pay_");
    p = put_hex(p, g->seed, 1);
    *p++ = '-';
    p = put_hex(p, row, 8);
    *p++ = '"';
    if (!(bad == PB_MISSING && row % 2 == 0)) {
        p = put_key(p, "created_at");
        *p++ = '"';
        p = put_time(g, p, g->t_us, true);
        *p++ = '"';
    } else {
        *path = "created_at";
    }
    p = put_key(p, "merchant_id");
    p = put(p, "\"m_");
    p = put_uint(p, m, 4);
    *p++ = '"';
    p = put_key(p, "status");
    p = put_qstr(p, pstatus_names[st]);
    if (bad == PB_MISSING && row % 2) {
        *path = "amount";
    } else {
        p = put_key(p, "amount");
        if (bad == PB_NUMERIC_RANGE) {          /* 30 integer digits: NUMERIC holds 29 */
            p = put(p, row % 2 ? "\"123456789012345678901234567890.5\"" : "-1e29");
            *path = "amount";
        } else if (bad == PB_NUMERIC_SCALE) {   /* 10 fractional digits: NUMERIC keeps 9 */
            p = put(p, row % 2 ? "\"12.3456789012\"" : "\"0.0000000001\"");
            *path = "amount";
        } else if (amount < (u128)1000000000000000u && below(g, 4) == 0) {
            p = put_dec(p, false, amount, dec);         /* a JSON number: short, exact in a double */
        } else {
            *p++ = '"';
            p = put_dec(p, false, amount, dec);
            *p++ = '"';
        }
    }
    p = put_key(p, "currency");
    p = put_qstr(p, city->currency);
    p = put_key(p, "fee");
    if (bad == PB_BIGNUMERIC_SCALE) {           /* 39 fractional digits: BIGNUMERIC keeps 38 */
        p = put(p, "\"0.123456789012345678901234567890123456789\"");
        *path = "fee";
    } else if (has_fee) {
        *p++ = '"';
        p = put_dec(p, false, fee, fee_scale);
        *p++ = '"';
    } else {
        p = put(p, "null");
    }

    p = put_key(p, "tags");
    if (bad == PB_ARRAY_TYPE && row % 2) {
        p = put(p, "\"recurring\"");
        *path = "tags";
    } else {
        unsigned ntags = 0;

        *p++ = '[';
        for (size_t t = 0; t < NTAG; t++) {
            if (!(t == 6 ? fx : below(g, 100) < tag_chance[t]))
                continue;
            if (ntags++)
                *p++ = ',';
            p = put_qstr(p, tag_names[t]);
        }
        if (bad == PB_ARRAY_NULL && row % 2) {
            p = put(p, ntags ? ",null" : "null");
            snprintf(pathbuf, sizeof pathbuf, "tags[%u]", ntags);
            *path = pathbuf;
        }
        *p++ = ']';
    }

    /* Bank transfers and wallets have no card. */
    if (below(g, 100) < 82 || bad == PB_RECORD_TYPE || (bad == PB_RECORD_REQUIRED && row % 2)) {
        uint64_t hc = next(g);

        p = put_key(p, "card");
        if (bad == PB_RECORD_TYPE) {
            p = put(p, "\"VISA\"");
            *path = "card";
        } else {
            *p++ = '{';
            if (bad == PB_RECORD_REQUIRED && row % 2) {
                p = put(p, "\"last4\":\"4242\"");
                *path = "card.brand";
            } else {
                p = put(p, "\"brand\":");
                p = put_qstr(p, brands[pick_weighted(g, brand_weight, 6)]);
                if (hc % 25) {                  /* 4% of processors send the brand only */
                    int64_t y = 2026 + (int64_t)(hc >> 8) % 6, mo = 1 + (int64_t)(hc >> 16) % 12;
                    struct tm tm = {.tm_year = (int)(y - 1900), .tm_mon = (int)mo, .tm_mday = 0};

                    p = put(p, ",\"last4\":\"");
                    p = put_uint(p, (hc >> 24) % 10000, 4);
                    p = put(p, "\",\"expiry\":");
                    p = put_qstr(p, day_text(g, (int64_t)timegm(&tm) / 86400));     /* month's last day */
                }
            }
            *p++ = '}';
        }
    }

    if (below(g, 100) < 70 || (bad == PB_RECORD_REQUIRED && row % 2 == 0)) {
        uint64_t cus = mix(hm ^ below(g, 5000));

        p = put_key(p, "customer");
        p = put(p, "{\"id\":\"cus_");
        p = put_hex(p, cus & 0xffffff, 6);
        *p++ = '"';
        if (below(g, 100) < 60) {
            p = put(p, ",\"email\":\"buyer.");
            p = put_hex(p, cus >> 24 & 0xffff, 4);
            p = put(p, "@example.com\"");
        }
        if (bad == PB_RECORD_REQUIRED && row % 2 == 0) {
            p = put(p, ",\"address\":{\"city\":\"Lima\"}");
            *path = "customer.address.country";
        } else if (below(g, 100) < 85) {
            const struct city *home = below(g, 10) ? city : &cities[below(g, NCITY)];

            p = put(p, ",\"address\":{\"country\":");
            p = put_qstr(p, home->country);
            p = put(p, ",\"city\":");
            p = put_qstr(p, home->name);
            if (below(g, 100) < 70) {
                p = put(p, ",\"postal_code\":\"");
                p = put_uint(p, (cus >> 40) % 100000, 5);
                *p++ = '"';
            }
            *p++ = '}';
        }
        *p++ = '}';
    }

    if (below(g, 100) < 95 || bad == PB_ARRAY_NULL || bad == PB_ITEM_TYPE || bad == PB_ARRAY_TYPE) {
        p = put_key(p, "items");
        if (bad == PB_ARRAY_TYPE && row % 2 == 0) {
            p = put(p, "{\"sku\":\"SKU-1\",\"qty\":1}");
            *path = "items";
        } else {
            *p++ = '[';
            for (uint64_t k = 0; k < nitems; k++) {
                if (k)
                    *p++ = ',';
                if (bad == PB_ARRAY_NULL && row % 2 == 0 && k == nitems - 1) {
                    p = put(p, "null");
                    snprintf(pathbuf, sizeof pathbuf, "items[%u]", (unsigned)k);
                    *path = pathbuf;
                    continue;
                }
                p = put(p, "{\"sku\":\"SKU-");
                p = put_alnum(p, mix(hm + sku[k]), 6);
                p = put(p, "\",\"qty\":");
                if (bad == PB_ITEM_TYPE && k == nitems - 1) {
                    p = put(p, row % 2 ? "\"two\"" : "1.5");
                    snprintf(pathbuf, sizeof pathbuf, "items[%u].qty", (unsigned)k);
                    *path = pathbuf;
                } else {
                    p = put_uint(p, qty[k], 1);
                }
                p = put(p, ",\"price\":\"");
                p = put_dec(p, false, price[k], dec);
                p = put(p, "\"}");
            }
            *p++ = ']';
        }
    }

    /* The processor's answer, any JSON: mostly an object, now and then something else. */
    p = put_key(p, "raw");
    {
        unsigned r = (unsigned)below(g, 100);
        uint64_t hr = next(g);
        const char *proc = !strcmp(city->country, "CL") && hr % 2 ? "transbank" : processors[hr % 5];

        if (r < 2) {
            p = put(p, "null");
        } else if (r < 3) {
            p = put(p, "[\"legacy\",42,{\"ok\":true}]");
        } else if (r < 4) {
            p = put(p, "\"gateway timeout\"");
        } else {
            p = put(p, "{\"processor\":");
            p = put_qstr(p, proc);
            p = put(p, ",\"response_code\":");
            p = put_qstr(p, st == PS_FAILED ? (hr >> 8) % 2 ? "05" : "51" : "00");
            if (st != PS_FAILED) {
                p = put(p, ",\"auth_code\":\"");
                p = put_alnum(p, hr >> 12, 6);
                *p++ = '"';
            }
            p = put(p, ",\"message\":");
            p = put_qstr(p, st == PS_FAILED ? "Do not honour" :
                            !strcmp(city->country, "CL") || !strcmp(city->country, "ES") ||
                            !strcmp(city->country, "MX") ? "Transacción aprobada" :
                            !strcmp(city->country, "JP") ? "承認されました" :
                            !strcmp(city->country, "BR") ? "Transação autorizada" : "Approved");
            p = put(p, ",\"risk\":{\"score\":");
            p = put_uint(p, (hr >> 40) % 100, 1);
            p = put(p, ",\"rules\":[");
            if ((hr >> 48) % 3 == 0)
                p = put(p, "\"velocity\",\"geo_mismatch\"");
            p = put(p, "]},\"latency_ms\":");
            p = put_uint(p, 40 + (hr >> 52) % 900, 1);
            if (fx) {
                p = put(p, ",\"fx_rate\":0.");
                p = put_uint(p, 8000 + (hr >> 20) % 2000, 4);
            }
            p = put(p, ",\"test\":false}");
        }
    }

    if (below(g, 100) < 90 || bad == PB_BASE64) {
        p = put_key(p, "fingerprint");
        *p++ = '"';
        if (bad == PB_BASE64) {
            p = put(p, row % 2 ? "not*base64!" : "AAEC/w=");
            *path = "fingerprint";
        } else {
            unsigned char fp[32];
            for (size_t i = 0; i < sizeof fp; i += 8) {
                uint64_t w = next(g);
                memcpy(fp + i, &w, 8);
            }
            p = put_base64(p, fp, sizeof fp);
        }
        *p++ = '"';
    }

    if (st == PS_SETTLED || st == PS_REFUNDED || st == PS_DISPUTED || bad == PB_DATETIME) {
        int64_t day = floor_div(created_s, 86400) + 1 + (int64_t)below(g, 2);
        int64_t at = (day * 86400 + 17 * 3600 + (int64_t)below(g, 6 * 3600)) * 1000000 +
                     (int64_t)below(g, 1000000);

        p = put_key(p, "settled_on");
        p = put_qstr(p, day_text(g, day));
        p = put_key(p, "settled_at");
        *p++ = '"';
        if (bad == PB_DATETIME) {
            p = put(p, row % 2 ? "2026-02-30T10:00:00" : "2026-01-01T10:00:00Z");
            *path = "settled_at";
        } else {
            p = put_datetime(g, p, at, (unsigned)below(g, 3));
        }
        *p++ = '"';
    }
    p = put_key(p, "cutoff");
    if (bad == PB_TIME) {
        p = put(p, row % 2 ? "\"24:00:01\"" : "\"7pm\"");
        *path = "cutoff";
    } else {
        p = put_qstr(p, cutoffs[(hm >> 24) % 6]);
    }
    if (below(g, 100) < 85 || bad == PB_WKT) {
        static const char *const bad_wkt[] = {"POINT(200 10)", "POINT(1 2", "LINESTRING(1 1)",
                                              "POLYGON((0 0, 1 0, 1 1, 0 0.5))", "POINT(a b)"};
        p = put_key(p, "location");
        *p++ = '"';
        if (bad == PB_WKT) {
            p = put(p, bad_wkt[row % 5]);
            *path = "location";
        } else {
            p = put(p, "POINT(");
            p = put_coord(p, (int64_t)(city->lon * 1e5) + (int64_t)below(g, 20001) - 10000);
            *p++ = ' ';
            p = put_coord(p, (int64_t)(city->lat * 1e5) + (int64_t)below(g, 20001) - 10000);
            *p++ = ')';
        }
        *p++ = '"';
    }
    *p++ = '}';

    if (bad == PB_NOTJSON) {
        p = line;
        p = put(p, row % 2 ? "payment m_" : "{\"payment_id\": oops");
        p = put_uint(p, m, 4);
        *path = NULL;
    }
    return (size_t)(p - line);
}

/* ---- which table ---------------------------------------------------------- */

static const struct table {
    const char *name;
    const char *const *bad_names;
    int nbad;
    size_t (*make)(struct gen *g, uint64_t row, int bad, char *line, const char **path);
} tables[] = {
    {"flights", bad_names, BAD_COUNT, make_flight},
    {"payments", pbad_names, PB_COUNT, make_payment},
};

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
    fputs("usage: flightgen [--schema flights|payments] [--rows N] [--seed S]\n"
          "                 [--start RFC3339|now] [--rate-per-sec R]\n"
          "                 [--malformed-pct P] [--manifest FILE] [--follow]\n"
          "Writes N (default 1000) NDJSON rows to stdout: flight events for\n"
          "schema/flights.json (default), or payments for schema/examples/payments.json.\n"
          "The same options give the same bytes. --manifest FILE gets one line per\n"
          "emitted line: \"ok\" or \"bad:<kind>\" (payments: \"bad:<kind>:<field>\", the\n"
          "field the rejection must name). --follow runs until killed.\n", f);
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
        {"schema", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    uint64_t rows = 1000, seed = 1, rate = 0, chunk;
    int64_t start_us = 1767225600LL * 1000000, t0 = 0;  /* 2026-01-01T00:00:00Z */
    bool follow = false, have_start = false;
    double pct = 0;
    const char *manifest_path = NULL;
    const struct table *tab = &tables[0];
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
        case 'S':
            tab = NULL;
            for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
                if (!strcmp(optarg, tables[t].name))
                    tab = &tables[t];
            if (!tab)
                goto bad_arg;
            break;
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
        int bad = 0;
        const char *path = NULL;

        if (pct > 0 && unit(&g) * 100 < pct)
            bad = 1 + (int)below(&g, (uint64_t)tab->nbad - 1);
        len += tab->make(&g, i, bad, out + len, &path);
        out[len++] = '\n';
        if (manifest) {
            fputs(bad ? "bad:" : "ok", manifest);
            if (bad)
                fputs(tab->bad_names[bad], manifest);
            if (bad && path) {
                fputc(':', manifest);
                fputs(path, manifest);
            }
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
