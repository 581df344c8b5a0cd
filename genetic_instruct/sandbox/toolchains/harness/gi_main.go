// The sandbox's Go test harness (genetic_instruct/sandbox/toolchains/go.py compiles it
// with the solution and the tests as one package main, the list of Test functions filled
// in). It runs each Test function of the tests through the testing package, as `go test`
// would, and counts each one: a test that fails, calls t.Fatal or panics is reported and
// the tests go on.
package main

import (
	gi_fmt "fmt"
	gi_os "os"
	gi_strings "strings"
	gi_testing "testing"
)

var (
	giResults *gi_os.File
	giNonce   string
	giSeen    []byte // per test: 1 reported passing, 2 failing
)

func giEmit(kind string, index int, text string) {
	if len(text) > 300 {
		text = text[:300]
	}
	text = gi_strings.NewReplacer("\n", " ", "\r", " ").Replace(text)
	if _, err := gi_fmt.Fprintf(giResults, "%s %s %d %s\n", giNonce, kind, index, text); err != nil {
		gi_os.Exit(3) // the program closed our channel
	}
}

func giMark(index int, seen byte) bool {
	if index < 0 || index >= len(giSeen) || giSeen[index]&seen != 0 {
		return false
	}
	giSeen[index] |= seen
	return true
}

func giWrap(index int, line int, name string, test func(*gi_testing.T)) func(*gi_testing.T) {
	return func(t *gi_testing.T) {
		defer func() {
			if cause := recover(); cause != nil {
				t.Fail()
				if giMark(index, 2) {
					giEmit("fail", index, gi_fmt.Sprintf("line %d: %s panicked: %v", line, name, cause))
				}
			} else if t.Failed() {
				if giMark(index, 2) {
					giEmit("fail", index, gi_fmt.Sprintf("line %d: %s failed (its output says why)", line, name))
				}
			} else if giMark(index, 1) {
				giEmit("pass", index, "")
			}
		}()
		test(t)
	}
}

func main() {
	data, _ := gi_os.ReadFile(".gi-nonce")
	gi_os.Remove(".gi-nonce")
	giNonce = gi_strings.TrimSpace(string(data))
	giResults = gi_os.NewFile(3, "results")
	tests := []gi_testing.InternalTest{
		GI_TESTS
		{Name: "GiDone", F: func(*gi_testing.T) { giEmit("done", len(giSeen), "") }},
	}
	giSeen = make([]byte, len(tests)-1)
	giEmit("total", len(giSeen), "")
	gi_testing.Main(func(string, string) (bool, error) { return true, nil }, tests, nil, nil)
}
