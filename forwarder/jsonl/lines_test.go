package jsonl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

type scanned struct {
	line    string
	no      int
	tooLong bool
}

func scanAll(t *testing.T, r io.Reader, maxLine int) ([]scanned, error) {
	t.Helper()
	s := NewScanner(r, maxLine)
	var out []scanned
	for s.Scan() {
		out = append(out, scanned{string(s.Bytes()), s.LineNo(), s.TooLong()})
	}
	return out, s.Err()
}

func TestLineScannerBasics(t *testing.T) {
	got, err := scanAll(t, strings.NewReader("a\r\n\nbb\nlast"), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []scanned{{"a", 1, false}, {"", 2, false}, {"bb", 3, false}, {"last", 4, false}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if got, _ := scanAll(t, strings.NewReader(""), 0); len(got) != 0 {
		t.Errorf("empty input gave %v", got)
	}
}

func TestLineScannerLongLines(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 8<<20) // 8 MiB: far beyond bufio.Scanner's 64 KiB
	tooBig := bytes.Repeat([]byte("y"), 10<<20)
	var in bytes.Buffer
	in.WriteString("first\n")
	in.Write(big)
	in.WriteString("\n")
	in.Write(tooBig)
	in.WriteString("\r\nafter\n")
	s := NewScanner(&in, 9<<20)
	var lines []scanned
	for s.Scan() {
		l := s.Bytes()
		switch {
		case s.LineNo() == 2:
			if !bytes.Equal(l, big) || s.TooLong() {
				t.Errorf("8 MiB line: len %d, tooLong %v", len(l), s.TooLong())
			}
		case s.LineNo() == 3:
			if !s.TooLong() || len(l) > 200 || s.Size() != int64(len(tooBig)+2) {
				t.Errorf("line 3: tooLong %v, len %d, size %d", s.TooLong(), len(l), s.Size())
			}
		}
		lines = append(lines, scanned{string(l[:min(len(l), 5)]), s.LineNo(), s.TooLong()})
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 4 || lines[3] != (scanned{"after", 4, false}) {
		t.Errorf("got %v", lines)
	}
}

func TestLineScannerBoundaries(t *testing.T) {
	// A line of exactly maxLine bytes passes (with or without CR), one more is too long.
	for _, tc := range []struct {
		in      string
		tooLong bool
	}{
		{"12345\n", false}, {"12345\r\n", false}, {"12345", false}, {"123456\n", true}, {"123456", true},
	} {
		got, err := scanAll(t, strings.NewReader(tc.in), 5)
		if err != nil || len(got) != 1 || got[0].tooLong != tc.tooLong {
			t.Errorf("%q: got %v, %v; want tooLong %v", tc.in, got, err, tc.tooLong)
		}
	}
}

type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestLineScannerReadError(t *testing.T) {
	boom := errors.New("boom")
	got, err := scanAll(t, &failingReader{data: []byte("one\ntw"), err: boom}, 0)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if len(got) != 1 || got[0].line != "one" {
		t.Errorf("got %v, want only the complete line", got)
	}
}

func TestScanLines(t *testing.T) {
	stop := errors.New("stop")
	var got []string
	var long []int
	err := ScanLines(strings.NewReader("a\n \r\n"+strings.Repeat("z", 50)+"\nb\nc\nd"), 10,
		func(line []byte, no int) error {
			got = append(got, fmt.Sprintf("%d:%s", no, line))
			if string(line) == "c" {
				return stop
			}
			return nil
		},
		func(no int, size int64, prefix []byte) { long = append(long, no, int(size), len(prefix)) })
	if err != stop {
		t.Fatalf("err = %v, want the callback's error unchanged", err)
	}
	if fmt.Sprint(got) != "[1:a 4:b 5:c]" || fmt.Sprint(long) != "[3 51 50]" {
		t.Errorf("lines %v, too long %v", got, long)
	}
}
