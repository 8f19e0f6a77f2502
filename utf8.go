package wsactor

import "unicode/utf8"

// utf8Stream validates UTF-8 that arrives in pieces (fragments, partial
// reads) with unicode/utf8, carrying at most 3 bytes of an incomplete
// sequence between pieces. It fails as soon as a piece cannot be the prefix
// of valid UTF-8, so an invalid text message is rejected before the rest of
// it arrives (RFC 6455 8.1).
type utf8Stream struct {
	carry [4]byte
	n     int
}

func (s *utf8Stream) reset() { s.n = 0 }

// seqLen is the length of the sequence a lead byte starts (0 if invalid).
func seqLen(b byte) int {
	switch {
	case b < 0x80:
		return 1
	case b >= 0xc2 && b <= 0xdf:
		return 2
	case b >= 0xe0 && b <= 0xef:
		return 3
	case b >= 0xf0 && b <= 0xf4:
		return 4
	}
	return 0
}

// validPrefix reports whether p (shorter than its sequence) can still be
// completed into a valid sequence. Missing bytes are tried as 0x80, 0x90 and
// 0xA0, which between them satisfy every second-byte range of RFC 3629.
func validPrefix(p []byte) bool {
	want := seqLen(p[0])
	if want == 0 || len(p) >= want {
		return false
	}
	var t [4]byte
	for _, fillb := range [...]byte{0x80, 0x90, 0xa0} {
		copy(t[:], p)
		for i := len(p); i < want; i++ {
			t[i] = fillb
		}
		if utf8.Valid(t[:want]) {
			return true
		}
	}
	return false
}

// feed validates the next piece.
func (s *utf8Stream) feed(p []byte) bool {
	if s.n > 0 {
		want := seqLen(s.carry[0])
		for s.n < want && len(p) > 0 {
			s.carry[s.n] = p[0]
			s.n++
			p = p[1:]
		}
		if s.n < want {
			return validPrefix(s.carry[:s.n])
		}
		if !utf8.Valid(s.carry[:want]) {
			return false
		}
		s.n = 0
	}
	// Find a possibly incomplete sequence at the end.
	cut := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-3; i-- {
		b := p[i]
		if b&0xc0 != 0x80 { // a lead byte (or ASCII)
			if l := seqLen(b); l > 1 && len(p)-i < l {
				cut = i
			}
			break
		}
	}
	if !utf8.Valid(p[:cut]) {
		return false
	}
	if cut < len(p) {
		s.n = copy(s.carry[:], p[cut:])
		return validPrefix(s.carry[:s.n])
	}
	return true
}

// complete reports whether no incomplete sequence is pending (the message
// may end here).
func (s *utf8Stream) complete() bool { return s.n == 0 }
