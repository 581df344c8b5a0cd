// The end of the sandbox's C++ program, after the tests (see gi_harness.hpp): what an
// exception says, and the entry point that runs the tests' own main, renamed.
#include <exception>
#include <new>

namespace gi_harness {
// In a handler: what the exception in flight says, and whether it is out of memory.
inline bool describe(char* out, int size) {
    const char* what = "an exception";
    bool memory = false;
    try {
        throw;
    } catch (const std::bad_alloc&) {
        what = "std::bad_alloc";
        memory = true;
    } catch (const std::exception& error) {
        what = error.what();
    } catch (...) {
    }
    int n = 0;
    for (const char* s = what; *s && n < size - 1; ++s) out[n++] = *s;
    out[n] = 0;
    return memory;
}

void raised(int index, int line, const char* text) {
    char what[320];
    bool memory = describe(what, sizeof(what));
    if (memory) {
        emit("memory", 0, what);
        return;
    }
    fail(index, line, text, what);
}
}  // namespace gi_harness

int main(int argc, char** argv) {
    gi_harness::start();
    int code = 0;
    try {
        code = gi_harness::call(gi_tests_main, argc, argv);
    } catch (...) {
        char what[320];
        bool memory = gi_harness::describe(what, sizeof(what));
        gi_harness::emit(memory ? "memory" : "error", 0, "the tests raised ", what);
        return 1;
    }
    gi_harness::emit("done", GI_TOTAL, "");
    return code;
}
