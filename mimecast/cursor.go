package mimecast

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode"
)

// DecodeStrict decodes one stored cursor document into v (a pointer to a
// struct): exactly one JSON object, every field known to v, nothing after
// it. Cursors are written by this program only, so anything else means the
// file was damaged or edited.
func DecodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not a cursor object: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("not a cursor object: data after the object")
	}
	return nil
}

// IndexControl returns the byte index of the first control character
// (C0, DEL or C1) of s, or -1. Tokens Mimecast hands out never hold one.
func IndexControl(s string) int {
	for i, r := range s {
		if unicode.IsControl(r) {
			return i
		}
	}
	return -1
}
