"""Reading C++, Java, JavaScript, Rust and Go from model answers written the way models
write them: prose and sign-offs around the code, a shell line first, a draft then its
revision, file names in fence headers, several files, tests in a block of their own, and
answers cut short. The reader sees the final answer only (the Role has taken the reasoning
away and turned a max_tokens cut down), and reads it as strictly as Python's.
"""

from __future__ import annotations

import pytest

from genetic_instruct.answers.language_code import fence_header, language_files, read_program
from genetic_instruct.answers.text import fences
from genetic_instruct.languages import Language
from genetic_instruct.rejection import Rejection

CHATTY_CPP = """Sure! Here's a C++ solution.

First compile it:

```bash
g++ -std=c++17 main.cpp -o main
```

A first attempt:

```cpp
int clamp_sum(int a, int b) { return a + b; }  // DRAFT
```

On reflection, the sum must be clamped to 100:

```c++
#include <algorithm>

int clamp_sum(int a, int b) {
    return std::min(a + b, 100);
}
```

And the tests:

```cpp
#include <cassert>

int main() {
    assert(clamp_sum(1, 2) == 3);
    assert(clamp_sum(90, 20) == 100);
}
```

Let me know if you need anything else!
"""


def test_a_chatty_answer_gives_the_revision_and_its_tests() -> None:
    solution, tests = read_program(CHATTY_CPP, Language.cpp, "Write `clamp_sum(a, b)`.")
    assert "std::min" in solution and "DRAFT" not in solution
    assert tests.startswith("#include <cassert>") and "clamp_sum(90, 20)" in tests


@pytest.mark.parametrize(
    ("header", "tag", "name"),
    [
        ("```java:Solution.java", "java", "Solution.java"),
        ('```cpp title="main.cpp"', "cpp", "main.cpp"),
        ("```go main.go", "go", "main.go"),
        ("```rust filename=src/lib.rs", "rust", "src/lib.rs"),
        ("```main.go", "", "main.go"),
        ("```js", "js", None),
        ("```", "", None),
    ],
)
def test_fence_headers_give_a_language_and_a_file(header: str, tag: str, name: str | None) -> None:
    text = f"{header}\nx\n```\n"
    assert fence_header(text, fences(text)[0]) == (tag, name)


JAVA_FILES = """Two files:

```java:Shape.java
package shapes;

import java.util.List;

public interface Shape { double area(); }
```

```java
// Circle.java
package shapes;

import java.util.List;
import java.util.ArrayList;

public class Circle implements Shape {
    private final double r;
    Circle(double r) { this.r = r; }
    public double area() { return Math.PI * r * r; }
}
```

```java:Main.java
public class Main {
    public static void main(String[] args) {
        assert new Circle(1).area() > 3.14;
    }
}
```
"""


def test_java_files_make_one_program_with_their_imports_first() -> None:
    answer = JAVA_FILES.replace("```java\n// Circle.java", "```java title=Circle.java\n//")
    solution, tests = read_program(answer, Language.java, "Write a `Circle` that is a `Shape`.")
    assert solution.index("import java.util.ArrayList;") < solution.index("interface Shape")
    assert solution.count("import java.util.List;") == 1 and "package" not in solution
    assert "class Circle" in solution and "assert new Circle(1)" in tests


GO_FILES = """```go title="stack.go"
package main

import "errors"

type Stack struct{ items []int }

func (s *Stack) Pop() (int, error) {
	if len(s.items) == 0 {
		return 0, errors.New("empty")
	}
	v := s.items[len(s.items)-1]
	s.items = s.items[:len(s.items)-1]
	return v, nil
}
```

```go title="push.go"
package main

import (
	"errors"
	"fmt"
)

func (s *Stack) Push(v int) { s.items = append(s.items, v); _ = fmt.Sprint(errors.New("")) }
```

```go title="stack_test.go"
package main

import "testing"

func TestPushPop(t *testing.T) {
	var s Stack
	s.Push(1)
	if v, _ := s.Pop(); v != 1 {
		t.Fatal(v)
	}
}
```
"""


def test_go_files_share_one_package_clause_and_their_imports() -> None:
    solution, tests = read_program(GO_FILES, Language.go, "Write a `Stack` with Push and Pop.")
    assert solution.startswith('package main\n\nimport (\n\t"errors"\n\t"fmt"\n)\n')
    assert solution.count("package main") == 1 and "func (s *Stack) Push" in solution
    assert "func TestPushPop" in tests


def test_a_cpp_header_and_its_source_are_one_program() -> None:
    answer = (
        '```cpp title="counter.hpp"\nint count_odd(int n);\n```\n\n'
        '```cpp title="counter.cpp"\n#include "counter.hpp"\n'
        "int count_odd(int n) { return (n + 1) / 2; }\n```\n\n"
        "```cpp\n#include <cassert>\nint main() { assert(count_odd(3) == 2); }\n```\n"
    )
    solution, _ = read_program(answer, Language.cpp, "Write `count_odd(n)`.")
    assert '#include "counter.hpp"' not in solution
    assert solution.index("int count_odd(int n);") < solution.index("return (n + 1) / 2;")


@pytest.mark.parametrize(
    ("answer", "language", "reason"),
    [
        ("```python\ndef f():\n    return 1\n```\n", Language.rust, "no_code"),
        ("I cannot write Go today.", Language.go, "no_code"),
        ("```rust\nfn f() -> i32 {\n    1 +\n", Language.rust, "code_truncated"),
        ("```js\nfunction f() { return 1; }\n```\n", Language.javascript, "no_tests"),
        (
            "```cpp\nint f( { return 1; }\n```\n```cpp\nint main() { assert(f()); }\n```",
            Language.cpp,
            "code_syntax_error",
        ),
    ],
    ids=["another-language", "prose", "cut-short", "no-tests", "syntax-error"],
)
def test_answers_without_a_usable_program_are_counted_rejections(
    answer: str, language: Language, reason: str
) -> None:
    with pytest.raises(Rejection, match=f"^{reason}$"):
        read_program(answer, language, "Write `f()`.")


def test_untagged_blocks_count_only_when_they_are_the_language() -> None:
    answer = (
        "```\nfunction twice(x) { return 2 * x; }\n```\n\nOutput:\n\n```\n[1, 2] -> [2, 4]\n```\n"
        "```js\nconst assert = require('assert');\nassert.strictEqual(twice(2), 4);\n```\n"
    )
    files = language_files(answer, Language.javascript)
    assert [f.code.split("(")[0] for f in files][0] == "function twice"
    solution, tests = read_program(answer, Language.javascript, "Write `twice(x)`.")
    assert solution == "function twice(x) { return 2 * x; }" and "strictEqual" in tests


def test_rust_tests_as_a_test_module_are_tests() -> None:
    answer = (
        "```rust\npub fn double(x: i64) -> i64 { x * 2 }\n```\n\n"
        "```rust\n#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n"
        "    fn doubles() { assert_eq!(double(2), 4); }\n}\n```\n"
    )
    solution, tests = read_program(answer, Language.rust, "Write `double(x)`.")
    assert solution.startswith("pub fn double") and "#[test]" in tests
