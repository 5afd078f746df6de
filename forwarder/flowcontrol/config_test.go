package flowcontrol

import (
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		maxEPS, state string
		start, ceil   float64
		adaptive      bool
		describe      string
	}{
		{"", "", 1000, 50000, false, "1000 events/s"},
		{"", "/run/wazuh/wazuh-analysisd.state", 1000, 50000, true, "adaptive, from 1000 up to 50000 events/s, following /run/wazuh/wazuh-analysisd.state"},
		{"2500", "", 2500, 2500, false, "2500 events/s"},
		{" 2500 ", "/s", 1000, 2500, true, "adaptive, from 1000 up to 2500 events/s, following /s"},
		{"500", "/s", 500, 500, true, "adaptive, from 500 up to 500 events/s, following /s"},
		{"0", "", 0, 0, false, "unlimited"},
		{"0", "/s", 1000, 0, true, "adaptive, from 1000 events/s without a ceiling, following /s"},
	} {
		c, err := ParseConfig(tc.maxEPS, tc.state)
		if err != nil {
			t.Fatalf("ParseConfig(%q, %q): %v", tc.maxEPS, tc.state, err)
		}
		if c.StartRate() != tc.start || c.Policy().Ceiling != tc.ceil || c.Adaptive() != tc.adaptive || c.String() != tc.describe {
			t.Errorf("ParseConfig(%q, %q): start %v, ceiling %v, adaptive %v, %q; want %v, %v, %v, %q",
				tc.maxEPS, tc.state, c.StartRate(), c.Policy().Ceiling, c.Adaptive(), c, tc.start, tc.ceil, tc.adaptive, tc.describe)
		}
	}
	for _, bad := range []string{"-1", "1.5", "abc", "1e3", "99999999999"} {
		if _, err := ParseConfig(bad, ""); err == nil || !strings.HasPrefix(err.Error(), `SYSLOG_MAX_EPS "`+bad+`": want a whole number`) {
			t.Errorf("SYSLOG_MAX_EPS=%s: %v", bad, err)
		}
	}
}
