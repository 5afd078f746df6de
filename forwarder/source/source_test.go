package source

import (
	"errors"
	"fmt"
	"testing"
)

func TestPermanent(t *testing.T) {
	base := errors.New("token refused")
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	p := Permanent(base)
	wrapped := fmt.Errorf("fetch: %w", p)
	if !IsPermanent(p) || !IsPermanent(wrapped) {
		t.Error("IsPermanent does not see a (wrapped) permanent error")
	}
	if IsPermanent(base) || IsPermanent(fmt.Errorf("fetch: %w", base)) {
		t.Error("IsPermanent reports an ordinary error as permanent")
	}
	if !errors.Is(wrapped, base) || p.Error() != "token refused" {
		t.Errorf("the permanent error hides its cause: %v", wrapped)
	}
}
