// The sandbox's Java test harness (genetic_instruct/sandbox/toolchains/java.py compiles it
// with the program and rewrites each `assert cond;` of the tests into a counted check).
// It runs the tests' main and counts each assert the way the Python harness counts a
// top-level assert: a failing one, or one that throws, is reported and the tests go on.
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

final class GiHarness {
    private static final int DETAIL = 300;
    private static FileOutputStream results;
    private static String nonce = "";
    private static byte[] state = new byte[0]; // per assert: 1 reported passing, 2 failing

    private GiHarness() {}

    /** args: the class whose main holds the tests, how many asserts they have, and the
     * solution's top-level classes. */
    public static void main(String[] args) throws Exception {
        int total = Integer.parseInt(args[1]);
        Path noncePath = Paths.get(".gi-nonce");
        nonce = new String(Files.readAllBytes(noncePath), StandardCharsets.US_ASCII).trim();
        Files.delete(noncePath);
        results = new FileOutputStream(descriptor(3));
        state = new byte[total];
        emit("total", total, "");
        int code = 0;
        try {
            // The solution's classes first, as Python imports the solution before its
            // tests: a static initializer that throws is the program's error, not an assert's.
            for (int i = 2; i < args.length; i++) {
                Class.forName(args[i], true, GiHarness.class.getClassLoader());
            }
            Method main = Class.forName(args[0]).getDeclaredMethod("main", String[].class);
            main.setAccessible(true);
            main.invoke(null, (Object) new String[0]);
            emit("done", total, "");
        } catch (Throwable error) {
            Throwable cause = error instanceof InvocationTargetException ? error.getCause() : error;
            if (cause instanceof ExceptionInInitializerError && cause.getCause() != null) {
                cause = cause.getCause();
            }
            emit(cause instanceof OutOfMemoryError ? "memory" : "error", 0,
                 "the tests raised " + describe(cause));
            code = 1;
        }
        System.out.flush();
        System.err.flush();
        // As Python's harness does: threads the program left behind do not keep it alive.
        Runtime.getRuntime().halt(code);
    }

    /** Descriptor 3, which the sandbox opened (java.io has no public way to name one;
     * the JVM runs with java.io opened to this class for it). */
    private static FileDescriptor descriptor(int number) throws ReflectiveOperationException {
        FileDescriptor descriptor = new FileDescriptor();
        Field field = FileDescriptor.class.getDeclaredField("fd");
        field.setAccessible(true);
        field.setInt(descriptor, number);
        return descriptor;
    }

    public static void check(int index, int line, String text, boolean held) {
        if (held) {
            if (mark(index, 1)) emit("pass", index, "");
        } else if (mark(index, 2)) {
            emit("fail", index, "line " + line + ": assert " + text);
        }
    }

    public static void raised(int index, int line, String text, Throwable error) {
        if (error instanceof OutOfMemoryError) {
            emit("memory", 0, describe(error));
        } else if (mark(index, 2)) {
            emit("fail", index, "line " + line + ": assert " + text + " (" + describe(error) + ")");
        }
    }

    private static synchronized boolean mark(int index, int seen) {
        if (index < 0 || index >= state.length || (state[index] & seen) != 0) return false;
        state[index] |= seen;
        return true;
    }

    private static String describe(Throwable error) {
        String message = error.getMessage();
        String name = error.getClass().getName();
        return message == null || message.isEmpty() ? name : name + ": " + message;
    }

    private static synchronized void emit(String kind, int index, String text) {
        String detail = text.length() > DETAIL ? text.substring(0, DETAIL) : text;
        detail = detail.replace('\n', ' ').replace('\r', ' ');
        String line = nonce + " " + kind + " " + index + " " + detail + "\n";
        try {
            results.write(line.getBytes(StandardCharsets.UTF_8));
        } catch (java.io.IOException gone) {
            Runtime.getRuntime().halt(3); // the program closed our channel
        }
    }
}
