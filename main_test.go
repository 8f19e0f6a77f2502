package wsactor_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests: every
// connection's actor, writer and dispatcher must have returned.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
