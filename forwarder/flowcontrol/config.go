package flowcontrol

import (
	"fmt"
	"strconv"
	"strings"
)

// Config is the output rate configuration: SYSLOG_MAX_EPS and
// WAZUH_ANALYSISD_STATE.
type Config struct {
	// Auto: SYSLOG_MAX_EPS is empty; MaxEPS is then ignored.
	Auto bool
	// MaxEPS is the fixed rate, or with StatePath the adaptive ceiling,
	// in events per second; 0 = unlimited (no ceiling).
	MaxEPS float64
	// StatePath is the path of wazuh-analysisd.state; empty = no adaptive
	// control.
	StatePath string
}

// ParseConfig reads SYSLOG_MAX_EPS (empty, or a whole number ≥ 0) and
// WAZUH_ANALYSISD_STATE.
func ParseConfig(maxEPS, statePath string) (Config, error) {
	c := Config{StatePath: strings.TrimSpace(statePath)}
	maxEPS = strings.TrimSpace(maxEPS)
	if maxEPS == "" {
		c.Auto = true
		return c, nil
	}
	n, err := strconv.ParseUint(maxEPS, 10, 32)
	if err != nil {
		return c, fmt.Errorf("SYSLOG_MAX_EPS %q: want a whole number of events per second ≥ 0 (0 = unlimited, empty = automatic)", maxEPS)
	}
	c.MaxEPS = float64(n)
	return c, nil
}

// Adaptive reports whether a Controller adapts the rate.
func (c Config) Adaptive() bool { return c.StatePath != "" }

// Policy returns DefaultPolicy with the ceiling of c.
func (c Config) Policy() Policy {
	p := DefaultPolicy()
	if !c.Auto {
		p.Ceiling = c.MaxEPS
	}
	return p
}

// StartRate is the Limiter's first rate (0 = unlimited): the fixed rate, or
// the adaptive control's safe rate.
func (c Config) StartRate() float64 {
	switch {
	case c.Adaptive():
		return c.Policy().Safe()
	case c.Auto:
		return SafeRate
	}
	return c.MaxEPS
}

// String describes the rate limit for logs and `check`.
func (c Config) String() string {
	switch {
	case c.Adaptive() && c.Policy().Ceiling > 0:
		return fmt.Sprintf("adaptive, from %.0f up to %.0f events/s, following %s", c.StartRate(), c.Policy().Ceiling, c.StatePath)
	case c.Adaptive():
		return fmt.Sprintf("adaptive, from %.0f events/s without a ceiling, following %s", c.StartRate(), c.StatePath)
	case c.StartRate() == 0:
		return "unlimited"
	}
	return fmt.Sprintf("%.0f events/s", c.StartRate())
}
