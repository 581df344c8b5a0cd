// The sandbox's C++ test harness (genetic_instruct/sandbox/toolchains/cpp.py places it
// between the solution and its tests, and rewrites each assert(...) of the tests into
// GI_ASSERT(<index>, ...)). It counts each assert the way the Python harness counts a
// top-level assert: a failing one is reported and the tests go on.
//
// No #include: a header pulled in here would be visible to the tests and hide a missing
// include of their own. The few C library calls it makes are declared under names of
// its own (asm labels), so they cannot clash with the program's declarations.
namespace gi_harness {
extern "C" long sys_write(int, const void*, unsigned long) __asm__("write");
extern "C" long sys_read(int, void*, unsigned long) __asm__("read");
extern "C" int sys_open(const char*, int, ...) __asm__("open");
extern "C" int sys_close(int) __asm__("close");
extern "C" int sys_unlink(const char*) __asm__("unlink");

const int kResults = 3;          // the records channel the sandbox opened
const int kDetail = 300;         // detail characters kept, as in Python's harness
char nonce[80];
int nonce_length = 0;
unsigned char state[GI_TOTAL + 1];  // per assert: 1 = reported passing, 2 = failing

inline void emit(const char* kind, int index, const char* text, const char* extra = "") {
    char line[512];
    int n = 0;
    auto put = [&](const char* s, int limit) {
        for (int i = 0; s[i] && i < limit && n < (int)sizeof(line) - 2; ++i)
            line[n++] = (s[i] == '\n' || s[i] == '\r') ? ' ' : s[i];
    };
    put(nonce, nonce_length);
    line[n++] = ' ';
    put(kind, 16);
    line[n++] = ' ';
    char digits[16];
    int d = 0;
    unsigned value = index < 0 ? 0u : (unsigned)index;
    do { digits[d++] = (char)('0' + value % 10); value /= 10; } while (value);
    while (d) line[n++] = digits[--d];
    line[n++] = ' ';
    put(text, kDetail);
    put(extra, kDetail);
    line[n++] = '\n';
    sys_write(kResults, line, (unsigned long)n);
}

inline void start() {
    int fd = sys_open(".gi-nonce", 0);
    if (fd >= 0) {
        long got = sys_read(fd, nonce, sizeof(nonce) - 1);
        nonce_length = got > 0 ? (int)got : 0;
        sys_close(fd);
        sys_unlink(".gi-nonce");
    }
    while (nonce_length && (nonce[nonce_length - 1] == '\n' || nonce[nonce_length - 1] == ' '))
        --nonce_length;
    emit("total", GI_TOTAL, "");
}

inline void line_text(char* out, int line) {
    char digits[16];
    int d = 0, n = 0;
    unsigned value = line < 0 ? 0u : (unsigned)line;
    do { digits[d++] = (char)('0' + value % 10); value /= 10; } while (value);
    const char* prefix = "line ";
    while (*prefix) out[n++] = *prefix++;
    while (d) out[n++] = digits[--d];
    out[n++] = ':';
    out[n++] = ' ';
    out[n] = 0;
}

// An assert's first failure: "line N: assert(<text>)" and what it raised, if anything.
inline void fail(int index, int line, const char* text, const char* raised = "") {
    if (state[index] & 2) return;  // a site in a loop: its first failure only
    state[index] |= 2;
    char where[32];
    line_text(where, line);
    char detail[400];
    int n = 0;
    for (const char* s = where; *s; ++s) detail[n++] = *s;
    for (const char* s = "assert("; *s; ++s) detail[n++] = *s;
    for (const char* s = text; *s && n < 250; ++s) detail[n++] = *s;
    detail[n++] = ')';
    if (*raised) {
        for (const char* s = " raised "; *s; ++s) detail[n++] = *s;
        for (const char* s = raised; *s && n < 398; ++s) detail[n++] = *s;
    }
    detail[n] = 0;
    emit("fail", index, detail);
}

inline void check(int index, bool held, int line, const char* text) {
    if (!held) {
        fail(index, line, text);
    } else if (!(state[index] & 1)) {  // a site in a loop: its first pass only
        state[index] |= 1;
        emit("pass", index, "");
    }
}

// Defined after the tests (gi_main.cpp), where the standard headers it needs may be
// included without hiding anything from the program.
void raised(int index, int line, const char* text);

inline int call(int (*tests)(), int, char**) { return tests(); }
inline int call(int (*tests)(int, char**), int argc, char** argv) { return tests(argc, argv); }
}  // namespace gi_harness

#define GI_ASSERT(index, ...)                                                          \
    do {                                                                               \
        try {                                                                          \
            ::gi_harness::check(index, static_cast<bool>(__VA_ARGS__), __LINE__,       \
                                #__VA_ARGS__);                                         \
        } catch (...) {                                                                \
            ::gi_harness::raised(index, __LINE__, #__VA_ARGS__);                       \
        }                                                                              \
    } while (0)
