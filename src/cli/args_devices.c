/*
 * args_devices.c - the command-line options that add devices to the
 * machine: -device, -drive, -object rng-random, -netdev, -nic (QEMU's
 * spelling and properties), each turned into a MachineDeviceConfig row or
 * a host backend spec in SessionOptions. Part of the parser in main.c
 * (args.h); it only parses and checks, session.c opens the backends.
 *
 * Invariants: devices enter MachineConfig.devices[] in command-line
 * order (QEMU's slot order follows from it); a device's properties are
 * checked against its model's table (device_opts) before it is added; a
 * -drive is sized once here so replay can refuse a changed image.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "host/blockimg.h"
#include "host/hostnet.h"
#include "machine/dev/virtio_console.h" /* VCON_MAX_PORTS */

/* --- devices: -device NAME[,PROP=V...], -object TYPE,id=ID[,...] --- */

/* -object rng-random,id=ID[,filename=/dev/urandom|/dev/random]: rrvm's
 * random bytes always come from the host's getrandom() through the random
 * gate (or -seed); the object only names the source for -device ...,rng=. */
bool opt_object(Parse *p, const char *arg)
{
    char buf[512], *tok[16];
    int n = args_split_commas(arg, buf, sizeof buf, tok, 16);
    if (n == 0 || (strcmp(tok[0], "rng-random") != 0 && strcmp(tok[0], "rng-builtin") != 0))
        return args_fail(p, "-object %s: rrvm knows rng-random and rng-builtin (entropy for virtio-rng-device)", arg);
    const char *id = NULL;
    for (int i = 1; i < n; i++) {
        if (strncmp(tok[i], "id=", 3) == 0)
            id = tok[i] + 3;
        else if (strcmp(tok[i], "filename=/dev/urandom") == 0 || strcmp(tok[i], "filename=/dev/random") == 0)
            ; /* the host's kernel entropy either way */
        else if (strncmp(tok[i], "filename=", 9) == 0)
            return args_fail(p, "-object %s: only filename=/dev/urandom or /dev/random (rrvm reads the host's "
                        "entropy through its random gate)", arg);
        else
            return args_fail(p, "-object %s: unknown property '%s'", arg, tok[i]);
    }
    if (!id || !*id)
        return args_fail(p, "-object %s: needs id=ID", arg);
    if (p->nrng_objects == MAX_RNG_OBJECTS)
        return args_fail(p, "-object %s: too many rng objects", arg);
    snprintf(p->rng_objects[p->nrng_objects++], MACHINE_DEV_ID_MAX, "%s", id);
    return true;
}

static bool rng_object_known(const Parse *p, const char *id)
{
    for (int i = 0; i < p->nrng_objects; i++)
        if (strcmp(p->rng_objects[i], id) == 0)
            return true;
    return false;
}

/* Properties of one -device, after its name. */
typedef bool (*DevPropFn)(Parse *p, MachineDeviceConfig *d, const char *key, const char *val);

static bool prop_rng(Parse *p, MachineDeviceConfig *d, const char *key, const char *val)
{
    if (strcmp(key, "rng") != 0)
        return args_fail(p, "-device virtio-rng-device: unknown property '%s' (rng=ID)", key);
    if (!rng_object_known(p, val))
        return args_fail(p, "-device virtio-rng-device,rng=%s: no -object rng-random,id=%s before it", val, val);
    snprintf(d->id, sizeof d->id, "%s", val);
    return true;
}

/* virtio-net-device: netdev=ID (a -netdev), mac=52:54:00:12:34:56 */
static bool prop_net(Parse *p, MachineDeviceConfig *d, const char *key, const char *val)
{
    if (strcmp(key, "netdev") == 0) {
        snprintf(d->id, sizeof d->id, "%s", val);
        return true;
    }
    if (strcmp(key, "mac") == 0) {
        unsigned b[6];
        char end;
        if (sscanf(val, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6 ||
            (b[0] & 1))
            return args_fail(p, "-device virtio-net-device,mac=%s: not a unicast MAC address (52:54:00:12:34:56)", val);
        for (int i = 0; i < 6; i++)
            d->mac[i] = (uint8_t)b[i];
        d->nports = 1; /* marks the MAC as given */
        return true;
    }
    return args_fail(p, "-device virtio-net-device: unknown property '%s' (netdev=ID, mac=MAC)", key);
}

/* --- disks: -drive file=IMG[,format=][,if=][,id=][,readonly=on][,snapshot=on][,overlay=FILE] --- */

static bool on_off(const char *v, bool *out)
{
    if (strcmp(v, "on") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0)
        *out = true;
    else if (strcmp(v, "off") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0)
        *out = false;
    else
        return false;
    return true;
}

static ParseDrive *find_drive(Parse *p, const char *id)
{
    for (int i = 0; i < p->ndrives; i++)
        if (strcmp(p->drives[i].id, id) == 0)
            return &p->drives[i];
    return NULL;
}

/* Add a virtio-blk device backed by drive dr to the machine. */
static bool add_blk_device(Parse *p, ParseDrive *dr, const char *what)
{
    MachineConfig *c = &p->o.cfg;
    if (c->ndevices == MACHINE_MAX_DEVICES)
        return args_fail(p, "%s: the virt board has %d virtio slots, all taken", what, MACHINE_MAX_DEVICES);
    if (dr->used)
        return args_fail(p, "%s: drive %s is already used by a device", what, dr->id);
    dr->used = true;
    int i = c->ndevices++;
    MachineDeviceConfig *d = &c->devices[i];
    memset(d, 0, sizeof *d);
    d->kind = MDEV_VIRTIO_BLK;
    snprintf(d->id, sizeof d->id, "%s", dr->id);
    d->size = dr->size;
    d->readonly = dr->readonly;
    p->o.drive[i].path = dr->file;
    p->o.drive[i].format = dr->format[0] ? dr->format : NULL;
    p->o.drive[i].overlay = dr->overlay[0] ? dr->overlay : NULL;
    return true;
}

/* QEMU's if= default is ide on most boards; rrvm has only virtio disks, so
 * it defaults to virtio. snapshot=on is how rrvm always works (the base is
 * never written), so it is accepted and changes nothing. */
bool opt_drive(Parse *p, const char *arg)
{
    char buf[8192], *tok[16];
    if (strlen(arg) >= sizeof buf)
        return args_fail(p, "-drive: the argument is too long");
    int n = args_split_commas(arg, buf, sizeof buf, tok, 16);
    if (p->ndrives == MAX_DRIVES)
        return args_fail(p, "-drive %s: at most %d drives", arg, MAX_DRIVES);
    ParseDrive *dr = &p->drives[p->ndrives];
    memset(dr, 0, sizeof *dr);
    bool if_virtio = true, snapshot = false;
    for (int i = 0; i < n; i++) {
        char *eq = strchr(tok[i], '=');
        if (!eq)
            return args_fail(p, "-drive %s: '%s' needs a value (KEY=VALUE)", arg, tok[i]);
        *eq = 0;
        const char *k = tok[i], *v = eq + 1;
        if (strcmp(k, "file") == 0) {
            if (!*v || strlen(v) >= sizeof dr->file)
                return args_fail(p, "-drive %s: file= needs a path", arg);
            snprintf(dr->file, sizeof dr->file, "%s", v);
        } else if (strcmp(k, "format") == 0) {
            if (strcmp(v, "raw") != 0 && strcmp(v, "qcow2") != 0)
                return args_fail(p, "-drive %s: format=%s: rrvm reads raw and qcow2 images", arg, v);
            snprintf(dr->format, sizeof dr->format, "%s", v);
        } else if (strcmp(k, "if") == 0) {
            if (strcmp(v, "virtio") != 0 && strcmp(v, "none") != 0)
                return args_fail(p, "-drive %s: if=%s: rrvm has only virtio disks (if=virtio, or if=none with "
                               "-device virtio-blk-device,drive=ID)", arg, v);
            if_virtio = strcmp(v, "virtio") == 0;
        } else if (strcmp(k, "id") == 0) {
            if (!*v || strlen(v) >= sizeof dr->id)
                return args_fail(p, "-drive %s: id= takes 1 to %d characters", arg, MACHINE_DEV_ID_MAX - 1);
            snprintf(dr->id, sizeof dr->id, "%s", v);
        } else if (strcmp(k, "readonly") == 0) {
            if (!on_off(v, &dr->readonly))
                return args_fail(p, "-drive %s: readonly=%s: takes on or off", arg, v);
        } else if (strcmp(k, "snapshot") == 0) {
            if (!on_off(v, &snapshot))
                return args_fail(p, "-drive %s: snapshot=%s: takes on or off", arg, v);
        } else if (strcmp(k, "overlay") == 0) {
            if (!*v || strlen(v) >= sizeof dr->overlay)
                return args_fail(p, "-drive %s: overlay= needs a path", arg);
            snprintf(dr->overlay, sizeof dr->overlay, "%s", v);
        } else {
            return args_fail(p, "-drive %s: unknown key '%s' (rrvm takes file, format, if, id, readonly, snapshot, "
                           "overlay)", arg, k);
        }
    }
    if (!dr->file[0])
        return args_fail(p, "-drive %s: needs file=IMAGE", arg);
    if (!dr->id[0]) {
        if (!if_virtio)
            return args_fail(p, "-drive %s: if=none needs id=ID (for -device virtio-blk-device,drive=ID)", arg);
        snprintf(dr->id, sizeof dr->id, "virtio%d", p->ndrives); /* QEMU's name for if=virtio drives */
    }
    if (find_drive(p, dr->id))
        return args_fail(p, "-drive %s: a drive with id=%s already exists", arg, dr->id);
    char err[1024];
    BlockImage *b = blockimg_open(dr->file, dr->format[0] ? dr->format : NULL, err, sizeof err);
    if (!b)
        return args_fail(p, "-drive %s: %s", arg, err);
    dr->size = blockimg_size(b);
    blockimg_close(b);
    if (dr->size == 0 || dr->size % 512)
        return args_fail(p, "-drive %s: the image is %" PRIu64 " bytes, not a positive multiple of 512 (a virtio "
                       "disk has 512-byte sectors)", arg, dr->size);
    p->ndrives++;
    return if_virtio ? add_blk_device(p, dr, "-drive") : true;
}

static bool prop_blk(Parse *p, MachineDeviceConfig *d, const char *key, const char *val)
{
    (void)d;
    if (strcmp(key, "drive") != 0)
        return args_fail(p, "-device virtio-blk-device: unknown property '%s' (drive=ID)", key);
    if (!find_drive(p, val))
        return args_fail(p, "-device virtio-blk-device,drive=%s: no -drive ...,id=%s before it", val, val);
    snprintf(d->id, sizeof d->id, "%s", val); /* the device is added by opt_device */
    return true;
}

static bool prop_serial_bus(Parse *p, MachineDeviceConfig *d, const char *key, const char *val)
{
    (void)d, (void)val;
    return args_fail(p, "-device virtio-serial-device: unknown property '%s' (its ports are -device virtconsole after it)",
                key);
}

/* -device virtconsole: a port of the last virtio-serial-device (d; the new
 * port is d->nports). Its chardev is host-side, kept in SessionOptions by
 * console port number; its name is the guest's to see, so machine config. */
static bool prop_virtconsole(Parse *p, MachineDeviceConfig *d, const char *key, const char *val)
{
    if (strcmp(key, "chardev") == 0) {
        if (strlen(val) >= CHARDEV_ID_MAX)
            return args_fail(p, "-device virtconsole: chardev id '%s' is too long", val);
        snprintf(p->port_ids[p->nports], CHARDEV_ID_MAX, "%s", val);
        p->o.port_chardev[p->nports] = p->port_ids[p->nports];
        return true;
    }
    if (strcmp(key, "name") == 0) {
        /* guest-visible (PORT_NAME, /sys/class/virtio-ports/.../name): machine config */
        size_t n = strlen(val);
        if (n == 0 || n >= MACHINE_PORT_NAME_MAX)
            return args_fail(p, "-device virtconsole: name= takes 1 to %d characters", MACHINE_PORT_NAME_MAX - 1);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)val[i] <= ' ' || (unsigned char)val[i] >= 0x7f || val[i] == '/')
                return args_fail(p, "-device virtconsole: name=%s: printable characters only, no spaces or '/'", val);
        snprintf(d->port_name[d->nports], sizeof d->port_name[d->nports], "%s", val);
        return true;
    }
    if (strcmp(key, "nr") == 0)
        return args_fail(p, "-device virtconsole: nr= is not supported (ports are numbered in command-line order)");
    return args_fail(p, "-device virtconsole: unknown property '%s' (chardev=ID)", key);
}

typedef struct DeviceOpt {
    const char *name; /* QEMU's -device name */
    int kind;         /* MachineDeviceKind */
    DevPropFn prop;
} DeviceOpt;

static const DeviceOpt device_opts[] = {
    {"virtio-blk-device", MDEV_VIRTIO_BLK, prop_blk},
    {"virtio-rng-device", MDEV_VIRTIO_RNG, prop_rng},
    {"virtio-net-device", MDEV_VIRTIO_NET, prop_net},
    {"virtio-serial-device", MDEV_VIRTIO_CONSOLE, prop_serial_bus},
    {"virtconsole", MDEV_NONE, prop_virtconsole}, /* a port of the last virtio-serial-device: MDEV_NONE */
};
#define NDEVICE_OPTS (sizeof device_opts / sizeof device_opts[0])

/* -device virtconsole[,chardev=ID]: one more port on the last
 * virtio-serial-device. */
static bool add_console_port(Parse *p, const DeviceOpt *dev, const char *arg, char **tok, int n)
{
    MachineConfig *c = &p->o.cfg;
    MachineDeviceConfig *bus = NULL;
    for (int i = 0; i < c->ndevices; i++)
        if (c->devices[i].kind == MDEV_VIRTIO_CONSOLE)
            bus = &c->devices[i];
    if (!bus)
        return args_fail(p, "-device %s: needs a -device virtio-serial-device before it", arg);
    if (bus->nports == VCON_MAX_PORTS || p->nports + 1 >= SESSION_MAX_PORTS)
        return args_fail(p, "-device %s: a virtio-serial-device takes at most %d virtconsole ports", arg,
                    VCON_MAX_PORTS);
    p->nports++;
    for (int i = 1; i < n; i++) {
        char *eq = strchr(tok[i], '=');
        if (!eq)
            return args_fail(p, "-device %s: property '%s' needs a value (KEY=VALUE)", arg, tok[i]);
        *eq = 0;
        if (strcmp(tok[i], "id") != 0 && !dev->prop(p, bus, tok[i], eq + 1))
            return false;
    }
    bus->nports++;
    return true;
}

bool opt_device(Parse *p, const char *arg)
{
    char buf[512], *tok[16];
    int n = args_split_commas(arg, buf, sizeof buf, tok, 16);
    const DeviceOpt *dev = NULL;
    for (size_t i = 0; n > 0 && i < NDEVICE_OPTS; i++)
        if (strcmp(device_opts[i].name, tok[0]) == 0)
            dev = &device_opts[i];
    if (!dev) {
        char names[256] = "";
        for (size_t i = 0; i < NDEVICE_OPTS; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     device_opts[i].name);
        return args_fail(p, "-device %s: unknown device (rrvm has: %s)", arg, names);
    }
    MachineConfig *c = &p->o.cfg;
    if (dev->kind == MDEV_NONE)
        return add_console_port(p, dev, arg, tok, n);
    if (c->ndevices == MACHINE_MAX_DEVICES)
        return args_fail(p, "-device %s: the virt board has %d virtio slots, all taken", arg, MACHINE_MAX_DEVICES);
    MachineDeviceConfig d = {.kind = dev->kind};
    for (int i = 1; i < n; i++) {
        char *eq = strchr(tok[i], '=');
        if (!eq)
            return args_fail(p, "-device %s: property '%s' needs a value (KEY=VALUE)", arg, tok[i]);
        *eq = 0;
        if (strcmp(tok[i], "id") == 0)
            continue; /* QEMU's device id: nothing refers to it here */
        if (!dev->prop(p, &d, tok[i], eq + 1))
            return false;
    }
    if (dev->kind == MDEV_VIRTIO_BLK) {
        if (!d.id[0])
            return args_fail(p, "-device %s: needs drive=ID (of a -drive ...,if=none,id=ID)", arg);
        return add_blk_device(p, find_drive(p, d.id), "-device virtio-blk-device");
    }
    c->devices[c->ndevices++] = d;
    return true;
}

/* -netdev TYPE,id=ID[,...]: the id is ours; the rest is the backend's
 * (checked in finish_args, once --allow-remote-net is known) */
bool opt_netdev(Parse *p, const char *arg)
{
    if (p->nnetdevs == MACHINE_MAX_DEVICES)
        return args_fail(p, "-netdev %s: at most %d network backends", arg, MACHINE_MAX_DEVICES);
    char buf[1024], spec[1024] = "", *tok[40];
    int n = args_split_commas(arg, buf, sizeof buf, tok, 40);
    const char *id = NULL;
    for (int i = 0; i < n; i++) {
        if (strncmp(tok[i], "id=", 3) == 0) {
            id = tok[i] + 3;
            continue;
        }
        snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "%s%s", spec[0] ? "," : "", tok[i]);
    }
    if (!id || !*id || strlen(id) >= MACHINE_DEV_ID_MAX)
        return args_fail(p, "-netdev %s: needs id=ID (at most %d characters)", arg, MACHINE_DEV_ID_MAX - 1);
    for (int i = 0; i < p->nnetdevs; i++)
        if (strcmp(p->netdevs[i].id, id) == 0)
            return args_fail(p, "-netdev %s: a netdev with id=%s exists already", arg, id);
    snprintf(p->netdevs[p->nnetdevs].id, MACHINE_DEV_ID_MAX, "%s", id);
    p->netdevs[p->nnetdevs].spec = strdup(spec);
    p->nnetdevs++;
    return true;
}

/* -nic none, or -nic user|socket[,...][,mac=M][,model=virtio-net-device]:
 * a -netdev and its card in one option, as QEMU */
bool opt_nic(Parse *p, const char *arg)
{
    if (strcmp(arg, "none") == 0)
        return true;
    char buf[1024], spec[1024] = "", *tok[40];
    int n = args_split_commas(arg, buf, sizeof buf, tok, 40);
    const char *mac = NULL;
    for (int i = 0; i < n; i++) {
        if (strncmp(tok[i], "mac=", 4) == 0) {
            mac = tok[i] + 4;
        } else if (strncmp(tok[i], "model=", 6) == 0) {
            if (strcmp(tok[i] + 6, "virtio-net-device") && strcmp(tok[i] + 6, "virtio"))
                return args_fail(p, "-nic %s: rrvm's only network card is model=virtio-net-device", arg);
        } else if (strncmp(tok[i], "id=", 3) == 0) {
            return args_fail(p, "-nic %s: -nic takes no id= (use -netdev and -device to name the backend)", arg);
        } else {
            snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "%s%s", spec[0] ? "," : "", tok[i]);
        }
    }
    char netdev[1100], device[200];
    snprintf(netdev, sizeof netdev, "%s,id=__nic%d", spec, p->nnetdevs);
    snprintf(device, sizeof device, "virtio-net-device,netdev=__nic%d%s%s", p->nnetdevs, mac ? ",mac=" : "",
             mac ? mac : "");
    return opt_netdev(p, netdev) && opt_device(p, device);
}

bool opt_net_dump(Parse *p, const char *arg) { p->o.net_dump = arg; return true; }
bool opt_allow_remote_net(Parse *p, const char *arg) { (void)arg; p->o.allow_remote_net = true; return true; }


/* Give each network card its backend; every -netdev must be used. */
bool args_connect_netdevs(Parse *p)
{
    MachineConfig *c = &p->o.cfg;
    bool used[MACHINE_MAX_DEVICES] = {false};
    int nics = 0;
    for (int i = 0; i < c->ndevices; i++) {
        MachineDeviceConfig *d = &c->devices[i];
        if (d->kind != MDEV_VIRTIO_NET)
            continue;
        if (!d->nports) { /* QEMU's default MACs: 52:54:00:12:34:56, :57, ... */
            static const uint8_t base[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
            memcpy(d->mac, base, 6);
            d->mac[5] = (uint8_t)(base[5] + nics);
        }
        d->nports = 0;
        nics++;
        int k = 0;
        while (k < p->nnetdevs && strcmp(p->netdevs[k].id, d->id) != 0)
            k++;
        if (!d->id[0] || k == p->nnetdevs)
            return args_fail(p, "-device virtio-net-device%s%s: no -netdev with that id (give netdev=ID)",
                        d->id[0] ? ",netdev=" : "", d->id);
        if (used[k])
            return args_fail(p, "-netdev id=%s: used by two network cards", d->id);
        used[k] = true;
        char err[512];
        if (!hostnet_check(p->netdevs[k].spec, p->o.allow_remote_net, err, sizeof err))
            return args_fail(p, "%s", err);
        p->o.netdev_spec[i] = p->netdevs[k].spec;
    }
    for (int k = 0; k < p->nnetdevs; k++)
        if (!used[k])
            return args_fail(p, "-netdev id=%s: no network card uses it (add -device virtio-net-device,netdev=%s)",
                        p->netdevs[k].id, p->netdevs[k].id);
    return true;
}

