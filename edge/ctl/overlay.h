// nightjarctl overlay tor|i2p on the edge: prints this edge's half of the overlay set-up, so that
// the operator never writes a port mapping by hand: its torrc lines (the SocksPort it delivers
// to OnionMX domains through, its link service with the commands that install the inner's client
// key, its OnionMX service) or its i2pd tunnels (the link tunnel with the inner's link
// destination as accesslist, the MX tunnel), and the DNS records to publish for it (an MX record
// for each public domain it serves; the `_onion-mx._tcp` SRV records once its OnionMX onion is
// known: --onion, or the hostname file tor writes in DIR/nightjar-edge-mx). What it used to learn
// from the inner's configuration it is told: its name in the inner's `edges:` (--name), the port
// the inner dials (--link-port), the inner's link destination (--inner-link-b32), its MX
// preference (--mx-preference). The inner prints its own half on its own machine
// (inner/ctl/overlay.h): nothing is copied between the machines but those few facts.
// Trust: the edge's configuration is loaded and checked by its own loader as for a copy
// (config::Host::other): only names, ports and addresses are read, so the files, directories and
// user it names need not be readable by whoever runs this (nightjar-edge --check-config asks
// that). The text is rendered by common/ctl/overlay_text.h.
#pragma once

#include "common/ctl/args.h"
#include "common/ctl/overlay_text.h"
#include "edge/config/config.h"

namespace nj::ctl {

// The facts of the edge's part from its configuration: hostname, the public domains (each once,
// in order), its link and OnionMX listeners, outbound.socks; the link port is the link
// listener's (the first), which --link-port overrides.
EdgeFacts edge_facts(const edge::EdgeConfig& c);

// Returns the exit status (0; 1 for a bad configuration or hostname file or a refused part; 2
// for usage).
int cmd_edge_overlay(const Args& args);

}  // namespace nj::ctl
