"""Programs in each compiled language for the sandbox's tests: an ordinary one, broken
ones, and hostile ones that try what tests/test_sandbox*.py try in Python.

Each hostile solution defines the attacks as functions that say whether the attack got
through; its tests assert, in the language's idiom, that none did, so a run that passes
means every attack was refused (and a failed assert names the one that was not).
"""

from __future__ import annotations

# An adder with three asserts: one passes, one fails, one sits in a loop and passes.
ADDER = {
    "cpp": (
        "int add(int a, int b) { return a + b; }\n",
        "#include <cassert>\nint main() {\n  assert(add(1, 2) == 3);\n  assert(add(2, 2) == 5);\n"
        "  for (int i = 0; i < 3; ++i) assert(add(i, 0) == i);\n}\n",
    ),
    "java": (
        "class Solution { static int add(int a, int b) { return a + b; } }\n",
        "public class Main {\n  public static void main(String[] args) {\n"
        "    assert Solution.add(1, 2) == 3;\n    assert Solution.add(2, 2) == 5;\n"
        "    for (int i = 0; i < 3; i++) assert Solution.add(i, 0) == i;\n  }\n}\n",
    ),
    "javascript": (
        "function add(a, b) { return a + b; }\n",
        "const assert = require('node:assert');\nassert.strictEqual(add(1, 2), 3);\n"
        "assert.strictEqual(add(2, 2), 5);\nfor (let i = 0; i < 3; i++) assert(add(i, 0) === i);\n",
    ),
    "rust": (
        "fn add(a: i64, b: i64) -> i64 { a + b }\n",
        "fn main() {\n    assert_eq!(add(1, 2), 3);\n    assert_eq!(add(2, 2), 5);\n"
        "    for i in 0..3 { assert!(add(i, 0) == i); }\n}\n",
    ),
    "go": (
        "package main\n\nfunc Add(a, b int) int { return a + b }\n",
        'package main\n\nimport "testing"\n\nfunc TestOne(t *testing.T) {\n'
        '\tif Add(1, 2) != 3 {\n\t\tt.Error("1 + 2")\n\t}\n}\n\n'
        'func TestTwo(t *testing.T) {\n\tif Add(2, 2) != 5 {\n\t\tt.Fatal("2 + 2")\n\t}\n}\n\n'
        "func TestLoop(t *testing.T) {\n\tfor i := 0; i < 3; i++ {\n"
        "\t\tif Add(i, 0) != i {\n\t\t\tt.Error(i)\n\t\t}\n\t}\n}\n",
    ),
}

# A solution that does not compile, against the adder's tests.
BROKEN = {
    "cpp": "int add(int a, int b) { return a + ; }\n",
    "java": "class Solution { static int add(int a, int b) { return a + ; } }\n",
    "javascript": "function add(a, b) { return a + ; }\n",
    "rust": "fn add(a: i64, b: i64) -> i64 { a + }\n",
    "go": "package main\n\nfunc Add(a, b int) int { return a + }\n",
}

# A solution that fails before any test runs, against the adder's tests.
CRASHING = {
    "cpp": "#include <stdexcept>\nint add(int a, int b) { return a + b; }\n"
    'struct Boom { Boom() { throw std::runtime_error("boom"); } } boom;\n',
    "java": "class Solution { static int add(int a, int b) { return a + b; }\n"
    '  static { if (true) throw new IllegalStateException("boom"); } }\n',
    "javascript": "function add(a, b) { return a + b; }\nthrow new Error('boom');\n",
    "rust": "fn add(a: i64, b: i64) -> i64 {\n"
    "    let frame = std::hint::black_box([a as u8; 4096]);\n"
    "    add(a + 1, b) + frame[7] as i64\n}\n",
    "go": 'package main\n\nfunc init() { panic("boom") }\n\nfunc Add(a, b int) int { return a + b }\n',
}

# A solution that loops forever, against the adder's tests.
LOOPING = {
    "cpp": "int add(int a, int b) { volatile int x = 0; while (true) ++x; return a + b; }\n",
    "java": "class Solution { static int add(int a, int b) { while (true) { } } }\n",
    "javascript": "function add(a, b) { for (;;) {} }\n",
    "rust": "fn add(a: i64, b: i64) -> i64 { let mut x = 0u64; loop { x = std::hint::black_box(x + 1); } }\n",
    "go": "package main\n\nfunc Add(a, b int) int {\n\tx := 0\n\tfor {\n\t\tx++\n\t}\n}\n",
}

# A solution that takes memory until something stops it, against the adder's tests.
GREEDY = {
    "cpp": "#include <vector>\n#include <cstring>\nint add(int a, int b) { std::vector<char*> v;\n"
    "  for (;;) { char* p = new char[1 << 24]; std::memset(p, 1, 1 << 24); v.push_back(p); } }\n",
    "java": "import java.util.*;\nclass Solution { static int add(int a, int b) {\n"
    "  List<long[]> v = new ArrayList<>(); for (;;) v.add(new long[1 << 21]); } }\n",
    "javascript": "function add(a, b) { const v = []; for (;;) v.push(new Array(1 << 20).fill(a)); }\n",
    "rust": "fn add(a: i64, b: i64) -> i64 { let mut v = Vec::new();\n"
    "  loop { v.push(vec![1u8; 1 << 24]); } }\n",
    "go": "package main\n\nvar kept [][]byte\n\nfunc Add(a, b int) int {\n\tfor {\n"
    "\t\tp := make([]byte, 1<<24)\n\t\tfor i := range p {\n\t\t\tp[i] = 1\n\t\t}\n"
    "\t\tkept = append(kept, p)\n\t}\n}\n",
}

# Attacks: read a host file, connect to a host port, start far more threads than allowed;
# where the language can make a raw system call (C++, Rust, Go), start a user namespace and
# reach the session keyring (both refused by the seccomp filter).
# {path} and {port} are filled in by the test. Each first starts a process that would sleep
# for a minute, outliving its run, and asserts it started; the test looks for it afterwards.
HOSTILE = {
    "cpp": (
        """#include <fstream>
#include <thread>
#include <vector>
#include <chrono>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
bool read_host() { std::ifstream f("{path}"); return f.good(); }
bool connect_host() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return false;
  sockaddr_in a{}; a.sin_family = AF_INET; a.sin_port = htons({port});
  a.sin_addr.s_addr = inet_addr("127.0.0.1");
  return connect(s, (sockaddr*)&a, sizeof a) == 0;
}
int threads_started() {
  std::vector<std::thread> all; int n = 0;
  try { for (; n < 300; ++n) all.emplace_back([] { std::this_thread::sleep_for(std::chrono::seconds(1)); }); }
  catch (...) {}
  for (auto& t : all) t.join();
  return n;
}
int forks_started() {
  int n = 0;
  for (; n < 300; ++n) { pid_t p = fork(); if (p < 0) break; if (p == 0) { sleep(1); _exit(0); } }
  return n;
}
bool unshare_allowed() { return unshare(0x10000000) == 0; }
#include <sys/syscall.h>
bool keyring_reachable() { return syscall(SYS_keyctl, 0, -3, 0) >= 0; }  // KEYCTL_GET_KEYRING_ID
bool sleeper_started() {  // a grandchild in a session of its own, asleep for a minute
  pid_t child = fork();
  if (child == 0) { setsid(); if (fork() == 0) { sleep(60); } _exit(0); }
  return child > 0;
}
""",
        "#include <cassert>\nint main() {\n  assert(sleeper_started());\n  assert(!read_host());\n  assert(!connect_host());\n"
        "  assert(threads_started() < 300);\n  assert(forks_started() < 300);\n"
        "  assert(!unshare_allowed());\n  assert(!keyring_reachable());\n}\n",
    ),
    "java": (
        """import java.nio.file.*;
import java.net.*;
import java.util.*;
class Solution {
  static boolean readHost() {
    try { Files.readAllBytes(Paths.get("{path}")); return true; } catch (Throwable e) { return false; }
  }
  static boolean connectHost() {
    try (Socket s = new Socket()) { s.connect(new InetSocketAddress("127.0.0.1", {port}), 2000); return true; }
    catch (Throwable e) { return false; }
  }
  static boolean sleeperStarted() {  // a JVM running a program that sleeps for a minute
    try {
      Files.writeString(Paths.get("Sleeper.java"),
          "class Sleeper { public static void main(String[] a) throws Exception { Thread.sleep(60000); } }");
      String java = ProcessHandle.current().info().command().orElse("java");
      return new ProcessBuilder(java, "-Xmx32m", "Sleeper.java").start().isAlive();
    } catch (Throwable e) { return false; }
  }
  static int threadsStarted() {
    int n = 0;
    try {
      for (; n < 300; n++) {
        Thread t = new Thread(() -> { try { Thread.sleep(1000); } catch (InterruptedException e) { } });
        t.setDaemon(true); t.start();
      }
    } catch (Throwable e) { }
    return n;
  }
}
""",
        "public class Main {\n  public static void main(String[] args) {\n"
        "    assert Solution.sleeperStarted();\n    assert !Solution.readHost();\n    assert !Solution.connectHost();\n"
        "    assert Solution.threadsStarted() < 300;\n  }\n}\n",
    ),
    "javascript": (
        """const fs = require('fs');
const net = require('net');
const { spawn } = require('child_process');
function readHost() { try { fs.readFileSync('{path}'); return true; } catch (e) { return false; } }
function connectHost() {
  return new Promise((resolve) => {
    const socket = net.connect({port}, '127.0.0.1', () => { socket.destroy(); resolve(true); });
    socket.on('error', () => resolve(false));
  });
}
function processesStarted() {
  let n = 0;
  try {
    for (; n < 300; n++) {
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1000)'], { stdio: 'ignore' });
      child.on('error', () => {});
      child.unref();
      if (!child.pid) break;
    }
  } catch (e) { }
  return n;
}
function sleeperStarted() {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'],
    { detached: true, stdio: 'ignore' });
  child.on('error', () => {});
  child.unref();
  return Boolean(child.pid);
}
""",
        "const assert = require('node:assert');\nassert(sleeperStarted());\nassert(!readHost());\n"
        "connectHost().then((connected) => assert(!connected));\n"
        "assert(processesStarted() < 300);\n",
    ),
    "rust": (
        """use std::io::Read;
fn read_host() -> bool { std::fs::File::open("{path}").is_ok() }
fn connect_host() -> bool { std::net::TcpStream::connect(("127.0.0.1", {port})).is_ok() }
fn threads_started() -> usize {
    let mut n = 0;
    while n < 300 {
        let spawned = std::thread::Builder::new()
            .spawn(|| std::thread::sleep(std::time::Duration::from_secs(1)));
        if spawned.is_err() { break; }
        n += 1;
    }
    n
}
extern "C" {
    fn syscall(number: i64, ...) -> i64;
    fn fork() -> i32;
    fn setsid() -> i32;
    fn sleep(seconds: u32) -> u32;
    fn _exit(code: i32) -> !;
}
fn sleeper_started() -> bool {
    unsafe {
        let child = fork();
        if child == 0 {
            setsid();
            sleep(60);
            _exit(0);
        }
        child > 0
    }
}
fn unshare_allowed() -> bool { unsafe { syscall(272, 0x10000000i64) == 0 } }
fn keyring_reachable() -> bool { unsafe { syscall(250, 0i64, -3i64, 0i64) >= 0 } }  // keyctl
""",
        "fn main() {\n    assert!(sleeper_started());\n    assert!(!read_host());\n    assert!(!connect_host());\n"
        "    assert!(threads_started() < 300);\n    assert!(!unshare_allowed());\n"
        "    assert!(!keyring_reachable());\n}\n",
    ),
    "go": (
        """package main

import (
	"net"
	"os"
	"syscall"
	"time"
)

// A copy started by forksStarted sleeps, as the child of a fork bomb would, then ends.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "gi-child" {
		time.Sleep(time.Second)
		os.Exit(0)
	}
	if len(os.Args) > 1 && os.Args[1] == "gi-sleeper" {
		time.Sleep(time.Minute)
		os.Exit(0)
	}
}

func readHost() bool { _, err := os.ReadFile("{path}"); return err == nil }

func connectHost() bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:{port}", 2*time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func forksStarted() int {
	n := 0
	for ; n < 300; n++ {
		attr := &syscall.ProcAttr{Files: []uintptr{0, 1, 2}}
		if _, err := syscall.ForkExec("/proc/self/exe", []string{"program", "gi-child"}, attr); err != nil {
			break
		}
	}
	return n
}

func sleeperStarted() bool {
	attr := &syscall.ProcAttr{Files: []uintptr{0, 1, 2}, Sys: &syscall.SysProcAttr{Setsid: true}}
	_, err := syscall.ForkExec("/proc/self/exe", []string{"program", "gi-sleeper"}, attr)
	return err == nil
}

func unshareAllowed() bool { return syscall.Unshare(syscall.CLONE_NEWUSER) == nil }

func keyringReachable() bool {
	session := -3 // KEY_SPEC_SESSION_KEYRING, for KEYCTL_GET_KEYRING_ID (0)
	_, _, errno := syscall.Syscall(syscall.SYS_KEYCTL, 0, uintptr(session), 0)
	return errno == 0
}
""",
        'package main\n\nimport "testing"\n\n'
        'func TestSleeper(t *testing.T) {\n\tif !sleeperStarted() {\n\t\tt.Error("no sleeper")\n\t}\n}\n\n'
        'func TestHostFile(t *testing.T) {\n\tif readHost() {\n\t\tt.Error("read")\n\t}\n}\n\n'
        'func TestNetwork(t *testing.T) {\n\tif connectHost() {\n\t\tt.Error("connected")\n\t}\n}\n\n'
        'func TestForks(t *testing.T) {\n\tif forksStarted() >= 300 {\n\t\tt.Error("forks")\n\t}\n}\n\n'
        'func TestUnshare(t *testing.T) {\n\tif unshareAllowed() {\n\t\tt.Error("unshare")\n\t}\n}\n\n'
        'func TestKeyring(t *testing.T) {\n\tif keyringReachable() {\n\t\tt.Error("keyring")\n\t}\n}\n',
    ),
}
