package hookd_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hookd/hookd"
)

func TestErrorCodeThroughWrapping(t *testing.T) {
	base := hookd.Errorf(hookd.ENOTFOUND, "application %q not found", "app_x")
	wrapped := fmt.Errorf("get app: %w", base)
	if got := hookd.ErrorCode(wrapped); got != hookd.ENOTFOUND {
		t.Fatalf("ErrorCode = %q, want %q", got, hookd.ENOTFOUND)
	}
	if !hookd.IsNotFound(wrapped) || hookd.IsConflict(wrapped) {
		t.Fatal("IsNotFound/IsConflict disagree with the code")
	}
	if got := hookd.ErrorMessage(wrapped); got != `application "app_x" not found` {
		t.Fatalf("ErrorMessage = %q", got)
	}
	plain := errors.New("disk on fire")
	if hookd.ErrorCode(plain) != hookd.EINTERNAL || hookd.ErrorMessage(plain) != "internal error" {
		t.Fatal("a foreign error must be internal and must not leak its text")
	}
	if hookd.ErrorCode(nil) != "" {
		t.Fatal("nil error has a code")
	}
	inv := hookd.Invalid("url", "must be an absolute http(s) URL")
	if inv.Code != hookd.EINVALID || inv.Field != "url" {
		t.Fatalf("Invalid = %+v", inv)
	}
}
