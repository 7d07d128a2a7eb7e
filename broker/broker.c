/* broker.c - see broker.h. */
#include "broker.h"

bool brk_kind_tls(enum cfg_listener_kind k)
{
	return k == CFG_SSL || k == CFG_WSS;
}

bool brk_kind_ws(enum cfg_listener_kind k)
{
	return k == CFG_WS || k == CFG_WSS;
}

const char *brk_proxy_state(const struct cfg_listener *c)
{
	if (!c->proxy_enabled)
		return "proxy off";
	return c->proxy_mode == CFG_PROXY_OPTIONAL ? "proxy optional" : "proxy on";
}

size_t brk_out_max(const struct cfg *cfg)
{
	/* Twice what the engine may leave (TLS records and WebSocket
	 * headers add to it), and room for acknowledgements. */
	return 2 * (cfg->mqtt.max_output_buffer + cfg->mqtt.max_packet_size) + (64u << 10);
}
