package syslogfmt

import (
	"strings"
	"testing"
)

func TestValidateDefaults(t *testing.T) {
	c := DefaultConfig()
	if c.Hostname == "" {
		t.Skip("os.Hostname() is empty here")
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig invalid: %v", err)
	}
	if c.Facility != 16 || c.AppName != "mimecast" || c.ProcID != "-" || c.MaxMessageBytes != 65000 || c.Body != BodyJSON || !c.StructuredData {
		t.Errorf("unexpected defaults %+v", c)
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		mod  func(*Config)
		want []string
	}{
		{func(c *Config) { c.Hostname = "has space" }, []string{`SYSLOG_HOSTNAME "has space": not a valid RFC5424 HOSTNAME (1-255 printable US-ASCII, no space)`}},
		{func(c *Config) { c.Hostname = strings.Repeat("h", 256) }, []string{"SYSLOG_HOSTNAME"}},
		{func(c *Config) { c.Hostname = "hôte" }, []string{"SYSLOG_HOSTNAME"}},
		{func(c *Config) { c.Hostname = "" }, []string{"SYSLOG_HOSTNAME is empty"}},
		{func(c *Config) { c.Hostname = "-" }, []string{`SYSLOG_HOSTNAME "-"`}},
		{func(c *Config) { c.AppName = "my app" }, []string{`SYSLOG_APP_NAME "my app": not a valid RFC5424 APP-NAME`}},
		{func(c *Config) { c.AppName = strings.Repeat("a", 49) }, []string{"SYSLOG_APP_NAME"}},
		{func(c *Config) { c.AppName = "" }, []string{"SYSLOG_APP_NAME"}},
		{func(c *Config) { c.AppName = "-" }, []string{"SYSLOG_APP_NAME"}},
		{func(c *Config) { c.ProcID = strings.Repeat("p", 129) }, []string{"SYSLOG_PROCID"}},
		{func(c *Config) { c.ProcID = "1 2" }, []string{`SYSLOG_PROCID "1 2"`}},
		{func(c *Config) { c.Facility = 24 }, []string{"SYSLOG_FACILITY 24: out of range 0-23"}},
		{func(c *Config) { c.Facility = -1 }, []string{"SYSLOG_FACILITY -1"}},
		{func(c *Config) { c.Body = 7 }, []string{"SYSLOG_BODY"}},
		{func(c *Config) { c.MaxMessageBytes = 479 }, []string{"SYSLOG_MAX_MESSAGE_BYTES 479: out of range 480-16777216"}},
		{func(c *Config) { c.MaxMessageBytes = MaxMessageBytesLimit + 1 }, []string{"SYSLOG_MAX_MESSAGE_BYTES"}},
		{func(c *Config) { c.Version = strings.Repeat("1", 33) }, []string{"version"}},
		{func(c *Config) { c.Version = "1 2" }, []string{"version"}},
		{func(c *Config) {
			c.Hostname, c.ProcID, c.MaxMessageBytes = strings.Repeat("h", 255), strings.Repeat("p", 128), 480
		}, []string{"SYSLOG_MAX_MESSAGE_BYTES 480: too small for this header"}},
		{func(c *Config) { c.Hostname, c.AppName, c.Facility = "a b", "c d", 99 }, []string{"SYSLOG_HOSTNAME", "SYSLOG_APP_NAME", "SYSLOG_FACILITY"}},
	}
	for _, tc := range tests {
		c := testConfig()
		tc.mod(&c)
		err := c.Validate()
		if err == nil {
			t.Errorf("%+v: no error, want %q", c, tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
		if got := strings.Count(err.Error(), "\n") + 1; got != len(tc.want) {
			t.Errorf("error %q: %d lines, want %d", err, got, len(tc.want))
		}
		if _, err := New(c); err == nil {
			t.Errorf("New accepted %+v", c)
		}
	}
}

func TestValidateAccepts(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.ProcID = "" },
		func(c *Config) { c.ProcID = "12345" },
		func(c *Config) { c.Hostname = strings.Repeat("h", 255) },
		func(c *Config) { c.AppName = strings.Repeat("a", 48) },
		func(c *Config) { c.MaxMessageBytes = 480 },
		func(c *Config) { c.Version = "" },
		func(c *Config) { c.Version = `1.0"]\` },
		func(c *Config) { c.Facility = 0 },
		func(c *Config) { c.Facility = 23 },
	} {
		c := testConfig()
		mod(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestParseFacility(t *testing.T) {
	for in, want := range map[string]int{"kern": 0, "user": 1, "LOCAL0": 16, " local7 ": 23, "authpriv": 10, "0": 0, "23": 23, "16": 16} {
		got, err := ParseFacility(in)
		if err != nil || got != want {
			t.Errorf("ParseFacility(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "local8", "24", "-1", "kernel"} {
		if _, err := ParseFacility(in); err == nil {
			t.Errorf("ParseFacility(%q) accepted", in)
		}
	}
	if FacilityName(16) != "local0" || FacilityName(30) != "30" {
		t.Error("FacilityName")
	}
}

func TestParseBodyMode(t *testing.T) {
	for in, want := range map[string]BodyMode{"json": BodyJSON, "RAW": BodyRaw, " raw": BodyRaw} {
		got, err := ParseBodyMode(in)
		if err != nil || got != want {
			t.Errorf("ParseBodyMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseBodyMode("xml"); err == nil {
		t.Error("ParseBodyMode(xml) accepted")
	}
	if BodyJSON.String() != "json" || BodyRaw.String() != "raw" {
		t.Error("String")
	}
}
