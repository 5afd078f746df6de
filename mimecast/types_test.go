package mimecast

import (
	"slices"
	"strings"
	"testing"
)

func TestTypesAndStreamNames(t *testing.T) {
	if len(Types) != 10 {
		t.Fatalf("len(Types) = %d, want 10", len(Types))
	}
	if got := StreamName("internal email protect"); got != "internal-email-protect" {
		t.Errorf("StreamName = %q", got)
	}
	for _, typ := range Types {
		got, ok := CanonicalType(strings.ToUpper(StreamName(typ)))
		if !ok || got != typ {
			t.Errorf("CanonicalType(%q) = %q, %v", StreamName(typ), got, ok)
		}
	}
}

func TestParseTypes(t *testing.T) {
	got, err := ParseTypes(" URL-Protect ,receipt, url protect,, Attachment Protect")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"receipt", "url protect", "attachment protect"}; !slices.Equal(got, want) {
		t.Errorf("ParseTypes = %q, want %q", got, want)
	}
	_, err = ParseTypes("receipt,bogus,ttp-url")
	if err == nil {
		t.Fatal("no error for unknown types")
	}
	for _, want := range []string{`"bogus"`, `"ttp-url"`, "internal email protect", "journal"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if strings.Contains(err.Error(), `"receipt"`) {
		t.Errorf("error %q names a valid type as unknown", err)
	}
	if _, err := ParseTypes(" , "); err == nil {
		t.Error("no error for an empty list")
	}
}
