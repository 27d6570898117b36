/*
 * consumer.codec._avroread -- an Avro binary reader that interprets a *program* built once per schema.
 *
 * Why: the generated pure-Python reader (consumer/codec/fastread.py) spends ~35 us of CPU on a ~1 KB,
 * ~100-field event; creating the ~100 result objects is a few us. This module makes the same decisions in
 * C. It is the accelerated twin of fastread's generated code and must give identical results and raise
 * identical exception types (tests/unit/codec/test_avroread.py compares the two, including every
 * truncation and corruption).
 *
 * Program encoding (built by consumer/codec/fastread_program.py; the opcodes are exported as OP_*):
 *
 *   node  := (OP_NULL,) | (OP_BOOLEAN,) | (OP_LONG,) | (OP_FLOAT,) | (OP_DOUBLE,)
 *          | (OP_STRING,) | (OP_BYTES,)
 *          | (OP_ENUM, symbols: tuple[str, ...])
 *          | (OP_FIXED, size: int)
 *          | (OP_ARRAY, items: node)                   -> tuple
 *          | (OP_MAP, values: node)                    -> dict with str keys
 *          | (OP_UNION, branches: tuple[node, ...])    -> the branch's value; index byte == 2 * branch
 *          | (OP_RECORD, cls: type, fields: tuple[field, ...])
 *   field := (value: node | None, slot: member_descriptor | None, factory: callable | None, default)
 *
 *   A record is created with cls->tp_alloc (what object.__new__ does; the classes are slots dataclasses
 *   without __post_init__) and each field is stored into its slot. value None: a dataclass field the
 *   schema lacks (its value is None before defaulting). slot None: a schema field the class lacks (read
 *   and dropped). A None value becomes factory() when factory is not None, else default.
 *
 * Errors mirror fastread's generated code (consumer/codec/avro.py catches these types):
 *   - one byte past the end (a varint byte, a boolean, a union index) -> IndexError, as buf[pos];
 *   - a float/double past the end -> struct.error, as Struct.unpack_from;
 *   - a string/bytes length that is negative or runs past the end, a fixed past the end -> EOFError;
 *   - a varint longer than 10 bytes, a bad union index byte, nesting deeper than MAX_DEPTH -> ValueError;
 *   - invalid UTF-8 -> UnicodeDecodeError (a ValueError); an enum index out of range -> IndexError;
 *   - a malformed program -> TypeError (a bug in the builder, never caused by the data).
 *
 * The input is any contiguous buffer, held (so it cannot be resized) for the whole read. No global
 * mutable state: struct.error is looked up once when the module is imported.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h> /* T_OBJECT_EX, READONLY */
#include <stdint.h>

enum {
    OP_NULL, OP_BOOLEAN, OP_LONG, OP_FLOAT, OP_DOUBLE, OP_STRING, OP_BYTES,
    OP_ENUM, OP_FIXED, OP_ARRAY, OP_MAP, OP_UNION, OP_RECORD, OP_COUNT
};

/* Tuple size of each node kind (opcode included); checked before any element is used. */
static const Py_ssize_t NODE_SIZE[OP_COUNT] = {1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3};

/* Nesting limit: the schemas are not recursive, so this only stops a malformed program. */
#define MAX_DEPTH 64

static PyObject *struct_error; /* struct.error, set once by module init */

typedef struct {
    const unsigned char *buf;
    Py_ssize_t len;
    Py_ssize_t pos;
} Input;

/* An unsigned varint as read: bits 0..63 in `low`, bits 64..69 in `high`. fastread accepts a 10th byte
 * above 1 and yields a Python int beyond 64 bits, so `high` keeps those bits instead of dropping them. */
typedef struct {
    uint64_t low;
    unsigned high;
} Varint;

static PyObject *read_value(Input *in, PyObject *node, int depth);

static PyObject *malformed(const char *what)
{
    PyErr_Format(PyExc_TypeError, "malformed reader program: %s", what);
    return NULL;
}

static int read_byte(Input *in, unsigned char *out)
{
    if (in->pos >= in->len) {
        PyErr_Format(PyExc_IndexError, "byte %zd is past the end (%zd bytes)", in->pos, in->len);
        return -1;
    }
    *out = in->buf[in->pos++];
    return 0;
}

/* Same byte order and limit as fastread._varint: after the 10th byte with a continuation bit set,
 * ValueError (without reading further). */
static int read_varint(Input *in, Varint *v)
{
    unsigned char b;
    v->low = 0;
    v->high = 0;
    for (int shift = 0;; shift += 7) {
        if (shift > 63) {
            PyErr_SetString(PyExc_ValueError, "varint longer than 10 bytes");
            return -1;
        }
        if (read_byte(in, &b) < 0)
            return -1;
        if (shift < 63) {
            v->low |= (uint64_t)(b & 0x7F) << shift;
        } else {
            v->low |= (uint64_t)(b & 1) << 63;
            v->high = (unsigned)(b & 0x7F) >> 1;
        }
        if (!(b & 0x80))
            return 0;
    }
}

/* Zig-zag decode of a varint that fits in 64 bits (v->high == 0). The unsigned-to-signed conversion
 * wraps modulo 2**64, which every compiler CPython supports does. */
static int64_t zigzag(const Varint *v)
{
    return (int64_t)((v->low >> 1) ^ (0 - (v->low & 1)));
}

/* Python int of a zig-zag varint. Values beyond 64 bits (rare, corrupt data) take the slow path:
 * magnitude = (low >> 1) | (high << 63), negated as ~magnitude when the sign bit (bit 0) is set. */
static PyObject *varint_object(const Varint *v)
{
    if (v->high == 0)
        return PyLong_FromLongLong(zigzag(v));
    PyObject *result = NULL, *shifted = NULL, *magnitude = NULL;
    PyObject *low = PyLong_FromUnsignedLongLong(v->low >> 1);
    PyObject *high = PyLong_FromUnsignedLong(v->high);
    PyObject *by = PyLong_FromLong(63);
    if (low && high && by)
        shifted = PyNumber_Lshift(high, by);
    if (shifted)
        magnitude = PyNumber_Or(low, shifted);
    if (magnitude)
        result = (v->low & 1) ? PyNumber_Invert(magnitude) : Py_NewRef(magnitude);
    Py_XDECREF(low);
    Py_XDECREF(high);
    Py_XDECREF(by);
    Py_XDECREF(shifted);
    Py_XDECREF(magnitude);
    return result;
}

/* Length of a string/bytes: EOFError when negative or past the end (fastread's _eof message). */
static int read_length(Input *in, Py_ssize_t *out)
{
    Varint v;
    if (read_varint(in, &v) < 0)
        return -1;
    if (v.high == 0) {
        int64_t n = zigzag(&v);
        if (n >= 0 && n <= (int64_t)(in->len - in->pos)) {
            *out = (Py_ssize_t)n;
            return 0;
        }
    }
    PyObject *n = varint_object(&v);
    if (n) {
        PyErr_Format(PyExc_EOFError, "length %S at byte %zd runs past the end (%zd bytes)", n, in->pos,
                     in->len);
        Py_DECREF(n);
    }
    return -1;
}

/* A block count: 0 ends the array/map; a negative count is followed by the block's size in bytes,
 * read and ignored (as fastread does). A count beyond 64 bits is clamped to UINT64_MAX: reading that
 * many items fails at the end of the input, where fastread's loop fails too. */
static int read_block_count(Input *in, uint64_t *count)
{
    Varint v, size;
    if (read_varint(in, &v) < 0)
        return -1;
    int negative = (int)(v.low & 1);
    if (v.high != 0)
        *count = UINT64_MAX;
    else if (negative)
        *count = 0 - (uint64_t)zigzag(&v); /* |n|, also for n == INT64_MIN */
    else
        *count = (uint64_t)zigzag(&v);
    if (negative && read_varint(in, &size) < 0)
        return -1;
    return 0;
}

static PyObject *read_real(Input *in, int size)
{
    if (in->len - in->pos < size) {
        PyErr_Format(struct_error, "unpack_from requires a buffer of at least %zd bytes for unpacking %d "
                     "bytes at offset %zd (actual buffer size is %zd)", in->pos + size, size, in->pos,
                     in->len);
        return NULL;
    }
    const char *p = (const char *)in->buf + in->pos;
    double x = size == 8 ? PyFloat_Unpack8(p, 1) : PyFloat_Unpack4(p, 1);
    if (x == -1.0 && PyErr_Occurred())
        return NULL;
    in->pos += size;
    return PyFloat_FromDouble(x);
}

static PyObject *read_string_or_bytes(Input *in, int is_string)
{
    Py_ssize_t n;
    if (read_length(in, &n) < 0)
        return NULL;
    const char *p = (const char *)in->buf + in->pos;
    in->pos += n;
    return is_string ? PyUnicode_DecodeUTF8(p, n, "strict") : PyBytes_FromStringAndSize(p, n);
}

static PyObject *read_enum(Input *in, PyObject *symbols)
{
    Varint v;
    if (!PyTuple_Check(symbols))
        return malformed("enum symbols are not a tuple");
    if (read_varint(in, &v) < 0)
        return NULL;
    if (v.high == 0) {
        int64_t n = zigzag(&v);
        if (n >= 0 && n < (int64_t)PyTuple_GET_SIZE(symbols))
            return Py_NewRef(PyTuple_GET_ITEM(symbols, (Py_ssize_t)n));
    }
    PyObject *n = varint_object(&v);
    if (n) {
        PyErr_Format(PyExc_IndexError, "enum index %S out of range (%zd symbols)", n,
                     PyTuple_GET_SIZE(symbols));
        Py_DECREF(n);
    }
    return NULL;
}

static PyObject *read_fixed(Input *in, PyObject *size_obj)
{
    Py_ssize_t size = PyLong_Check(size_obj) ? PyLong_AsSsize_t(size_obj) : -1;
    if (size < 0) {
        PyErr_Clear();
        return malformed("fixed size is not a non-negative int");
    }
    if (size > in->len - in->pos) {
        PyErr_Format(PyExc_EOFError, "length %zd at byte %zd runs past the end (%zd bytes)", size, in->pos,
                     in->len);
        return NULL;
    }
    PyObject *value = PyBytes_FromStringAndSize((const char *)in->buf + in->pos, size);
    if (value)
        in->pos += size;
    return value;
}

/* Arrays collect into a list (the total count is only known at the end) and become a tuple. */
static PyObject *read_array(Input *in, PyObject *items, int depth)
{
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    for (;;) {
        uint64_t count;
        if (read_block_count(in, &count) < 0)
            goto fail;
        if (count == 0)
            break;
        for (uint64_t i = 0; i < count; i++) {
            PyObject *item = read_value(in, items, depth + 1);
            if (!item)
                goto fail;
            int failed = PyList_Append(list, item);
            Py_DECREF(item);
            if (failed)
                goto fail;
        }
    }
    PyObject *result = PyList_AsTuple(list);
    Py_DECREF(list);
    return result;
fail:
    Py_DECREF(list);
    return NULL;
}

static PyObject *read_map(Input *in, PyObject *values, int depth)
{
    PyObject *dict = PyDict_New();
    if (!dict)
        return NULL;
    for (;;) {
        uint64_t count;
        if (read_block_count(in, &count) < 0)
            goto fail;
        if (count == 0)
            return dict;
        for (uint64_t i = 0; i < count; i++) {
            PyObject *key = read_string_or_bytes(in, 1);
            if (!key)
                goto fail;
            PyObject *value = read_value(in, values, depth + 1);
            if (!value) {
                Py_DECREF(key);
                goto fail;
            }
            int failed = PyDict_SetItem(dict, key, value);
            Py_DECREF(key);
            Py_DECREF(value);
            if (failed)
                goto fail;
        }
    }
fail:
    Py_DECREF(dict);
    return NULL;
}

/* Branch indexes below 64 are one zig-zag byte (index * 2); fastread compares that byte, so any other
 * byte (odd, too large, or the first byte of a longer varint) is a ValueError. */
static PyObject *read_union(Input *in, PyObject *branches, int depth)
{
    unsigned char b;
    if (!PyTuple_Check(branches))
        return malformed("union branches are not a tuple");
    if (read_byte(in, &b) < 0)
        return NULL;
    if ((b & 1) || b / 2 >= PyTuple_GET_SIZE(branches)) {
        PyErr_Format(PyExc_ValueError, "union index byte %d out of range", (int)b);
        return NULL;
    }
    return read_value(in, PyTuple_GET_ITEM(branches, b / 2), depth + 1);
}

/* The offset of a writable object slot that `descr` (a member descriptor) defines on `cls` itself,
 * or -1 with TypeError: storing through any other offset would corrupt the object. */
static Py_ssize_t slot_offset(PyTypeObject *cls, PyObject *descr)
{
    if (Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyMemberDescrObject *member = (PyMemberDescrObject *)descr;
        PyMemberDef *def = member->d_member;
        if (member->d_common.d_type == cls && def->type == T_OBJECT_EX && !(def->flags & READONLY)
            && def->offset >= (Py_ssize_t)sizeof(PyObject)
            && def->offset <= cls->tp_basicsize - (Py_ssize_t)sizeof(PyObject *))
            return def->offset;
    }
    PyErr_Format(PyExc_TypeError, "malformed reader program: %R is not an object slot of %s", descr,
                 cls->tp_name);
    return -1;
}

/* One record field: its value (read, or None when the schema lacks it), defaulted if None. */
static PyObject *field_value(Input *in, PyObject *field, int depth)
{
    PyObject *node = PyTuple_GET_ITEM(field, 0);
    PyObject *factory = PyTuple_GET_ITEM(field, 2);
    PyObject *fallback = PyTuple_GET_ITEM(field, 3);
    PyObject *value = node == Py_None ? Py_NewRef(Py_None) : read_value(in, node, depth + 1);
    if (value != Py_None || (factory == Py_None && fallback == Py_None))
        return value;
    Py_DECREF(value);
    /* A fresh object per instance (a dict must never be shared between records). */
    return factory != Py_None ? PyObject_CallNoArgs(factory) : Py_NewRef(fallback);
}

static PyObject *read_record(Input *in, PyObject *cls_obj, PyObject *fields, int depth)
{
    if (!PyType_Check(cls_obj) || !PyTuple_Check(fields))
        return malformed("a record needs a class and a tuple of fields");
    PyTypeObject *cls = (PyTypeObject *)cls_obj;
    /* Only plain object subclasses: tp_alloc is then exactly what object.__new__(cls) does. */
    if (cls->tp_new != PyBaseObject_Type.tp_new || cls->tp_itemsize != 0)
        return malformed("a record class must be a plain slots class");
    PyObject *obj = cls->tp_alloc(cls, 0);
    if (!obj)
        return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fields); i++) {
        PyObject *field = PyTuple_GET_ITEM(fields, i);
        if (!PyTuple_CheckExact(field) || PyTuple_GET_SIZE(field) != 4) {
            malformed("a field is not a 4-tuple");
            goto fail;
        }
        PyObject *value = field_value(in, field, depth);
        if (!value)
            goto fail;
        PyObject *slot = PyTuple_GET_ITEM(field, 1);
        if (slot == Py_None) { /* a field the domain class does not have: read past it */
            Py_DECREF(value);
            continue;
        }
        Py_ssize_t offset = slot_offset(cls, slot);
        if (offset < 0) {
            Py_DECREF(value);
            goto fail;
        }
        PyObject **address = (PyObject **)((char *)obj + offset);
        Py_XSETREF(*address, value); /* steals `value`; a slot is normally still NULL here */
    }
    return obj;
fail:
    Py_DECREF(obj); /* deallocation clears the slots already set */
    return NULL;
}

static PyObject *read_value(Input *in, PyObject *node, int depth)
{
    if (depth > MAX_DEPTH) {
        PyErr_Format(PyExc_ValueError, "schema nested deeper than %d levels", MAX_DEPTH);
        return NULL;
    }
    /* Exact types: one pointer compare each (no tp_flags load), on the hot path for every node. */
    if (!PyTuple_CheckExact(node) || PyTuple_GET_SIZE(node) < 1
        || !PyLong_CheckExact(PyTuple_GET_ITEM(node, 0)))
        return malformed("a node is not a tuple starting with an opcode");
    long op = PyLong_AsLong(PyTuple_GET_ITEM(node, 0));
    if (op < 0 || op >= OP_COUNT || PyTuple_GET_SIZE(node) != NODE_SIZE[op]) {
        PyErr_Clear();
        return malformed("unknown opcode or wrong node size");
    }
    unsigned char b;
    Varint v;
    switch (op) {
    case OP_NULL:
        return Py_NewRef(Py_None);
    case OP_BOOLEAN:
        if (read_byte(in, &b) < 0)
            return NULL;
        return Py_NewRef(b ? Py_True : Py_False); /* as fastread: any non-zero byte is true */
    case OP_LONG:
        if (read_varint(in, &v) < 0)
            return NULL;
        return varint_object(&v);
    case OP_FLOAT:
        return read_real(in, 4);
    case OP_DOUBLE:
        return read_real(in, 8);
    case OP_STRING:
        return read_string_or_bytes(in, 1);
    case OP_BYTES:
        return read_string_or_bytes(in, 0);
    case OP_ENUM:
        return read_enum(in, PyTuple_GET_ITEM(node, 1));
    case OP_FIXED:
        return read_fixed(in, PyTuple_GET_ITEM(node, 1));
    case OP_ARRAY:
        return read_array(in, PyTuple_GET_ITEM(node, 1), depth);
    case OP_MAP:
        return read_map(in, PyTuple_GET_ITEM(node, 1), depth);
    case OP_UNION:
        return read_union(in, PyTuple_GET_ITEM(node, 1), depth);
    default: /* OP_RECORD */
        return read_record(in, PyTuple_GET_ITEM(node, 1), PyTuple_GET_ITEM(node, 2), depth);
    }
}

static PyObject *avroread_read(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "read() takes 2 positional arguments (program, buf), got %zd", nargs);
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[1], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    Input in = {(const unsigned char *)view.buf, view.len, 0};
    PyObject *value = read_value(&in, args[0], 0);
    PyBuffer_Release(&view);
    if (!value)
        return NULL;
    PyObject *end = PyLong_FromSsize_t(in.pos);
    PyObject *result = end ? PyTuple_New(2) : NULL;
    if (!result) {
        Py_DECREF(value);
        Py_XDECREF(end);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, value);
    PyTuple_SET_ITEM(result, 1, end);
    return result;
}

PyDoc_STRVAR(read_doc,
             "read(program, buf, /) -> (value, end)\n\n"
             "Decode the Avro binary value described by `program` from the start of `buf` (any contiguous\n"
             "buffer); `end` is the position after it. See consumer/codec/fastread_program.py.");

static PyMethodDef avroread_methods[] = {
    {"read", (PyCFunction)(void (*)(void))avroread_read, METH_FASTCALL, read_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef avroread_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "consumer.codec._avroread",
    .m_doc = "C interpreter of Avro reader programs (see consumer/codec/fastread_program.py).",
    .m_size = -1,
    .m_methods = avroread_methods,
};

PyMODINIT_FUNC PyInit__avroread(void)
{
    static const struct {
        const char *name;
        int value;
    } constants[] = {
        {"OP_NULL", OP_NULL},     {"OP_BOOLEAN", OP_BOOLEAN}, {"OP_LONG", OP_LONG},
        {"OP_FLOAT", OP_FLOAT},   {"OP_DOUBLE", OP_DOUBLE},   {"OP_STRING", OP_STRING},
        {"OP_BYTES", OP_BYTES},   {"OP_ENUM", OP_ENUM},       {"OP_FIXED", OP_FIXED},
        {"OP_ARRAY", OP_ARRAY},   {"OP_MAP", OP_MAP},         {"OP_UNION", OP_UNION},
        {"OP_RECORD", OP_RECORD}, {"MAX_DEPTH", MAX_DEPTH},
    };
    PyObject *module = PyModule_Create(&avroread_module);
    if (!module)
        return NULL;
    for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++) {
        if (PyModule_AddIntConstant(module, constants[i].name, constants[i].value) < 0)
            goto fail;
    }
    if (!struct_error) {
        PyObject *struct_module = PyImport_ImportModule("struct");
        if (!struct_module)
            goto fail;
        struct_error = PyObject_GetAttrString(struct_module, "error");
        Py_DECREF(struct_module);
        if (!struct_error)
            goto fail;
    }
    return module;
fail:
    Py_DECREF(module);
    return NULL;
}
