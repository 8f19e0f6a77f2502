//go:build !linux

package wsactor

// ParkedKeeps: actors park only on Linux (see export_linux_test.go).
func ParkedKeeps(c *Conn) (ring, batch, stocks int) { return -1, -1, -1 }

// ParkedHot: actors park only on Linux (see export_linux_test.go).
func ParkedHot(c *Conn) bool { return false }
