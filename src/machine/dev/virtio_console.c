/*
 * virtio_console.c - virtio console with multiport (virtio 1.x, "Console
 * Device"), as QEMU's virtio-serial-device with virtconsole ports.
 *
 * Queues: port 0 receive/transmit = 0/1, control receive/transmit = 2/3,
 * port p >= 1 receive/transmit = 2+2p / 3+2p. Control messages are
 * {le32 id, le16 event, le16 value}. The handshake Linux drives:
 * driver DEVICE_READY -> device PORT_ADD for every port; driver PORT_READY
 * -> device CONSOLE_PORT, PORT_NAME (when the port has a name=) and
 * PORT_OPEN (the host side is always open:
 * whether a host program listens is not something the guest may see, it
 * would be an input); driver PORT_OPEN says whether the guest has the
 * port open. Device-to-driver messages wait in a small queue (device
 * state) until the driver posts control receive buffers.
 *
 * Invariants: config space is read-only to the guest (rewritten after any
 * guest write); a receive buffer is filled and returned at once, so the
 * device never holds a partly filled guest buffer; everything beyond the
 * transport (ports' ready/open state, queued control messages) is saved.
 */
#include "virtio_console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/le.h"

#define VIRTIO_CONSOLE_F_MULTIPORT 1

enum {
    VCON_DEVICE_READY = 0,
    VCON_PORT_ADD = 1,
    VCON_PORT_REMOVE = 2,
    VCON_PORT_READY = 3,
    VCON_CONSOLE_PORT = 4,
    VCON_RESIZE = 5,
    VCON_PORT_OPEN = 6,
    VCON_PORT_NAME = 7,
};

#define Q_CTRL_RX 2
#define Q_CTRL_TX 3
#define CTRL_MSG_LEN 8
#define CTRL_QUEUE_MAX 64 /* device-to-driver messages waiting for buffers */
#define CHUNK 4096

typedef struct VconCtrl {
    uint32_t id;
    uint16_t event, value;
} VconCtrl;

typedef struct VconPort {
    bool ready;      /* the driver sent PORT_READY */
    bool guest_open; /* the driver sent PORT_OPEN 1 */
} VconPort;

typedef struct VirtioConsole {
    VirtioDev vdev; /* first: a VirtioDev * is a VirtioConsole * */
    int index;      /* in cfg.devices: the `dev` of port_write */
    int nports;
    char name[VCON_MAX_PORTS][MACHINE_PORT_NAME_MAX]; /* configuration, not state */
    bool driver_ready; /* DEVICE_READY received */
    VconPort port[VCON_MAX_PORTS];
    VconCtrl ctrl[CTRL_QUEUE_MAX];
    int nctrl;
} VirtioConsole;

static VirtioConsole *vcon(VirtioDev *d) { return (VirtioConsole *)d; }
static int rx_queue(int port) { return port == 0 ? 0 : 2 + 2 * port; }
static bool multiport(const VirtioDev *d) { return virtio_dev_has_feature(d, VIRTIO_CONSOLE_F_MULTIPORT); }

static void fill_config(VirtioConsole *c)
{
    memset(c->vdev.config, 0, 12);
    put_le32(c->vdev.config + 4, (uint32_t)c->nports); /* cols, rows = 0; max_nr_ports; emerg_wr */
}

/* --- control messages --- */

static void ctrl_flush(VirtioConsole *c)
{
    VirtioDev *d = &c->vdev;
    bool pushed = false;
    int done = 0;
    VirtqElem e;
    while (done < c->nctrl && virtq_pop(d, Q_CTRL_RX, &e) == 1) {
        uint8_t b[CTRL_MSG_LEN + MACHINE_PORT_NAME_MAX];
        const VconCtrl *m = &c->ctrl[done];
        size_t len = CTRL_MSG_LEN;
        put_le32(b, m->id);
        put_le16(b + 4, m->event);
        put_le16(b + 6, m->value);
        if (m->event == VCON_PORT_NAME && m->id < (uint32_t)c->nports) { /* the name follows, no NUL */
            size_t n = strlen(c->name[m->id]);
            memcpy(b + CTRL_MSG_LEN, c->name[m->id], n);
            len += n;
        }
        virtq_push(d, Q_CTRL_RX, &e, (uint32_t)virtq_copy_to(d, &e, 0, b, len));
        pushed = true;
        done++;
    }
    memmove(c->ctrl, c->ctrl + done, (size_t)(c->nctrl - done) * sizeof c->ctrl[0]);
    c->nctrl -= done;
    if (pushed)
        virtq_notify(d, Q_CTRL_RX);
}

/* A driver that floods us with requests loses the replies past the queue,
 * deterministically. */
static void ctrl_send(VirtioConsole *c, uint32_t id, uint16_t event, uint16_t value)
{
    if (c->nctrl < CTRL_QUEUE_MAX)
        c->ctrl[c->nctrl++] = (VconCtrl){id, event, value};
}

static void ctrl_handle(VirtioConsole *c, uint32_t id, uint16_t event, uint16_t value)
{
    switch (event) {
    case VCON_DEVICE_READY:
        c->driver_ready = value == 1;
        for (int p = 0; c->driver_ready && p < c->nports; p++)
            ctrl_send(c, (uint32_t)p, VCON_PORT_ADD, 1);
        break;
    case VCON_PORT_READY:
        if (id >= (uint32_t)c->nports || value != 1)
            break;
        c->port[id].ready = true;
        ctrl_send(c, id, VCON_CONSOLE_PORT, 1);
        if (c->name[id][0])
            ctrl_send(c, id, VCON_PORT_NAME, 1);
        ctrl_send(c, id, VCON_PORT_OPEN, 1);
        break;
    case VCON_PORT_OPEN:
        if (id < (uint32_t)c->nports)
            c->port[id].guest_open = value != 0;
        break;
    default: /* RESIZE, NAME, REMOVE: device-to-driver only */
        break;
    }
}

static void ctrl_tx(VirtioConsole *c)
{
    VirtioDev *d = &c->vdev;
    VirtqElem e;
    bool pushed = false;
    while (virtq_pop(d, Q_CTRL_TX, &e) == 1) {
        uint8_t b[CTRL_MSG_LEN];
        if (virtq_copy_from(d, &e, 0, b, sizeof b) == sizeof b)
            ctrl_handle(c, get_le32(b), get_le16(b + 4), get_le16(b + 6));
        virtq_push(d, Q_CTRL_TX, &e, 0);
        pushed = true;
    }
    if (pushed)
        virtq_notify(d, Q_CTRL_TX);
    ctrl_flush(c);
}

/* --- data --- */

static void port_tx(VirtioConsole *c, int port, int q)
{
    VirtioDev *d = &c->vdev;
    Machine *m = d->m;
    VirtqElem e;
    bool pushed = false;
    while (virtq_pop(d, q, &e) == 1) {
        uint8_t buf[CHUNK];
        for (uint64_t off = 0; off < e.out_len;) {
            size_t n = virtq_copy_from(d, &e, off, buf, sizeof buf);
            if (!n)
                break;
            if (m->host.port_write)
                m->host.port_write(m->host.opaque, c->index, port, buf, n);
            off += n;
        }
        virtq_push(d, q, &e, 0);
        pushed = true;
    }
    if (pushed)
        virtq_notify(d, q);
}

static void vcon_notify(VirtioDev *d, int q)
{
    VirtioConsole *c = vcon(d);
    if (q == Q_CTRL_TX && multiport(d))
        ctrl_tx(c);
    else if (q == Q_CTRL_RX && multiport(d))
        ctrl_flush(c);
    else if (q == 1)
        port_tx(c, 0, q);
    else if (q > Q_CTRL_TX && (q & 1) && multiport(d))
        port_tx(c, (q - 3) / 2, q);
    /* a receive queue got buffers: the replay layer fills them between slices */
}

static bool port_receiving(VirtioConsole *c, int port)
{
    VirtioDev *d = &c->vdev;
    if (port < 0 || port >= c->nports || (port > 0 && !multiport(d)))
        return false;
    return !multiport(d) || (c->port[port].ready && c->port[port].guest_open);
}

bool virtio_console_can_receive(VirtioDev *d, int port)
{
    VirtioConsole *c = vcon(d);
    return port_receiving(c, port) && virtq_has_avail(d, rx_queue(port));
}

size_t virtio_console_receive(VirtioDev *d, int port, const uint8_t *buf, size_t n)
{
    VirtioConsole *c = vcon(d);
    size_t done = 0;
    VirtqElem e;
    if (!port_receiving(c, port))
        return 0;
    int q = rx_queue(port);
    bool pushed = false;
    while (done < n && virtq_pop(d, q, &e) == 1) {
        size_t k = virtq_copy_to(d, &e, 0, buf + done, n - done);
        virtq_push(d, q, &e, (uint32_t)k);
        done += k;
        pushed = true;
    }
    if (pushed)
        virtq_notify(d, q);
    return done;
}

/* --- lifecycle and state --- */

static void vcon_config_write(VirtioDev *d, uint32_t off, uint32_t len)
{
    (void)off, (void)len;
    fill_config(vcon(d)); /* nothing in it is the guest's to change */
}

static void vcon_reset(VirtioDev *d)
{
    VirtioConsole *c = vcon(d);
    c->driver_ready = false;
    memset(c->port, 0, sizeof c->port);
    c->nctrl = 0;
    fill_config(c);
}

static void vcon_save(const VirtioDev *d, SerWriter *w)
{
    const VirtioConsole *c = (const VirtioConsole *)d;
    ser_put_tag(w, "VCON", 1);
    ser_put_u32(w, (uint32_t)c->nports);
    ser_put_u8(w, c->driver_ready);
    for (int p = 0; p < c->nports; p++) {
        ser_put_u8(w, c->port[p].ready);
        ser_put_u8(w, c->port[p].guest_open);
    }
    ser_put_u32(w, (uint32_t)c->nctrl);
    for (int i = 0; i < c->nctrl; i++) {
        ser_put_u32(w, c->ctrl[i].id);
        ser_put_u16(w, c->ctrl[i].event);
        ser_put_u16(w, c->ctrl[i].value);
    }
}

static bool get_flag(SerReader *r, bool *out)
{
    uint8_t v = ser_get_u8(r);
    if (v > 1)
        ser_fail(r, "virtio console state: a flag is not 0 or 1");
    *out = v == 1;
    return ser_ok(r);
}

/* The machine rolls back on failure: fields may be left half-loaded. */
static bool vcon_load(VirtioDev *d, SerReader *r)
{
    VirtioConsole *c = vcon(d);
    if (ser_get_tag(r, "VCON") != 1)
        ser_fail(r, "virtio console state has an unknown version");
    if (ser_get_u32(r) != (uint32_t)c->nports)
        ser_fail(r, "virtio console state is for another number of ports");
    get_flag(r, &c->driver_ready);
    for (int p = 0; p < c->nports && ser_ok(r); p++) {
        get_flag(r, &c->port[p].ready);
        get_flag(r, &c->port[p].guest_open);
    }
    uint32_t n = ser_get_u32(r);
    if (ser_ok(r) && n > CTRL_QUEUE_MAX)
        ser_fail(r, "virtio console state has too many control messages");
    for (uint32_t i = 0; i < n && ser_ok(r); i++) {
        c->ctrl[i].id = ser_get_u32(r);
        c->ctrl[i].event = ser_get_u16(r);
        c->ctrl[i].value = ser_get_u16(r);
    }
    if (ser_ok(r))
        c->nctrl = (int)n;
    fill_config(c);
    return ser_ok(r);
}

static void vcon_free(VirtioDev *d) { free(d); }

static const VirtioDevClass virtio_console_class = {
    .name = "virtio-serial-device",
    .device_id = 3,
    .features = 1ull << VIRTIO_CONSOLE_F_MULTIPORT,
    .queue_notify = vcon_notify,
    .config_write = vcon_config_write,
    .reset = vcon_reset,
    .save = vcon_save,
    .load = vcon_load,
    .free = vcon_free,
};

bool virtio_console_is(const VirtioDev *d) { return d && d->cls == &virtio_console_class; }

VirtioDev *virtio_console_create(Machine *m, int index, const MachineDeviceConfig *cfg, char *err, size_t errlen)
{
    (void)m;
    if (cfg->nports < 1 || cfg->nports > VCON_MAX_PORTS) {
        snprintf(err, errlen, "virtio-serial-device: %u ports; it takes 1 to %d virtconsole ports", cfg->nports,
                 VCON_MAX_PORTS);
        return NULL;
    }
    VirtioConsole *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "virtio-serial-device: out of memory");
        return NULL;
    }
    c->index = index;
    c->nports = (int)cfg->nports;
    for (int p = 0; p < c->nports; p++) /* a NUL within the field, whatever the config holds */
        snprintf(c->name[p], sizeof c->name[p], "%.*s", (int)sizeof cfg->port_name[p], cfg->port_name[p]);
    virtio_dev_init(&c->vdev, &virtio_console_class, 2 * (c->nports + 1), 12);
    fill_config(c);
    return &c->vdev;
}
