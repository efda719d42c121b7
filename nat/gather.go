package nat

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// maxHostCandidates bounds how many interface addresses GatherHost offers.
const maxHostCandidates = 8

// GatherHost lists host candidates for a UDP socket bound to port on all
// interfaces: one per address of an interface that is up, IPv4 first, in
// interface order. Loopback, link-local, multicast and unspecified addresses
// are left out (RFC 8445 section 5.1.1.1), except that loopback addresses
// are listed when there is nothing else. Local preferences descend from
// 65535 in that order. A socket bound to an IPv4 address only should use
// only the IPv4 candidates.
func GatherHost(port uint16) ([]Candidate, error) {
	if port == 0 {
		return nil, errors.New("nat: gathering host candidates: port 0")
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("nat: listing interfaces: %w", err)
	}
	var addrs []netip.Addr
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 {
			continue
		}
		ifAddrs, err := iface.Addrs()
		if err != nil {
			return nil, fmt.Errorf("nat: listing addresses of %s: %w", iface.Name, err)
		}
		for _, a := range ifAddrs {
			if ipNet, ok := a.(*net.IPNet); ok {
				if addr, ok := netip.AddrFromSlice(ipNet.IP); ok {
					addrs = append(addrs, addr.Unmap())
				}
			}
		}
	}
	cands := hostCandidates(addrs, port)
	if len(cands) == 0 {
		return nil, errors.New("nat: gathering host candidates: no usable interface address")
	}
	return cands, nil
}

// hostCandidates picks and orders the host candidate addresses among addrs
// as GatherHost describes.
func hostCandidates(addrs []netip.Addr, port uint16) []Candidate {
	var usable, loopback []netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		switch {
		case !a.IsValid() || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() ||
			a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast():
		case a.IsLoopback():
			if !slices.Contains(loopback, a) {
				loopback = append(loopback, a)
			}
		default:
			if !slices.Contains(usable, a) {
				usable = append(usable, a)
			}
		}
	}
	if len(usable) == 0 {
		usable = loopback
	}
	// IPv4 first, keeping interface order within a family.
	slices.SortStableFunc(usable, func(a, b netip.Addr) int {
		switch {
		case a.Is4() == b.Is4():
			return 0
		case a.Is4():
			return -1
		}
		return 1
	})
	if len(usable) > maxHostCandidates {
		usable = usable[:maxHostCandidates]
	}
	cands := make([]Candidate, 0, len(usable))
	for i, a := range usable {
		cands = append(cands, HostCandidate(netip.AddrPortFrom(a, port), uint16(65535-i)))
	}
	return cands
}
