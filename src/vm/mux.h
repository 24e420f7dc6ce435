/* The guest's one network path: TCP connections multiplexed over the
 * "reins.net" virtio-serial port. In the guest, a listener on loopback at
 * the proxy's port takes the agent's connections; in vm-host, each one
 * becomes a connection to the session's egress proxy, which decides as it
 * does for a container. No NIC, no slirp: nothing else leaves the guest.
 *
 * Frames: a 4-byte connection id, a 4-byte length (both big-endian), then
 * that many bytes (at most VM_MUX_FRAME_MAX); length 0 closes the id. */
#ifndef REINS_VM_MUX_H
#define REINS_VM_MUX_H

#define VM_MUX_FRAME_MAX   65536u
#define VM_MUX_CONNECTIONS 64

/* A listening TCP socket on 127.0.0.1:port; -errno. */
int vm_mux_listen(unsigned port);
/* The guest's side: accept on `listener`, carry over `serial`. Returns when
 * the port closes; -errno on failure. */
int vm_mux_guest(int serial, int listener);
/* vm-host's side: each new id from `serial` is a connection to
 * 127.0.0.1:proxy_port. */
int vm_mux_host(int serial, unsigned proxy_port);

#endif
