/**
 * Label raster -> polygons (pure: no I/O). The pixels of one value are outlined exactly along
 * pixel edges: every edge between a pixel of the value and one that is not becomes a directed
 * edge with the value on its right (y down), the edges are chained into closed rings, and at a
 * vertex where two pixels touch only diagonally the ring turns right, so diagonal neighbours get
 * separate rings that touch at a point (valid for GeoJSON/JTS). Rings with positive shoelace area
 * (counter-clockwise with y up, as RFC 7946 wants exteriors) are exteriors; the others are holes,
 * each put in the smallest exterior that contains it. Coordinates are raster pixel corners.
 */
export type Ring = Array<[number, number]>;
/** A polygon: its exterior ring, then its holes. */
export type Polygon = Ring[];

/** Directions: 0 = +x, 1 = +y (down), 2 = -x, 3 = -y. */
const DX = [1, 0, -1, 0];
const DY = [0, 1, 0, -1];

export function tracePolygons(values: Uint8Array, width: number, height: number, value: number): Polygon[] {
  const rings = traceRings(values, width, height, value);
  const outers = rings.filter((r) => ringArea(r) > 0).map((r) => ({ ring: r, area: ringArea(r), holes: [] as Ring[] }));
  for (const hole of rings.filter((r) => ringArea(r) < 0)) {
    const [px, py] = pointInside(hole);
    let best: (typeof outers)[number] | null = null;
    for (const o of outers) if ((!best || o.area < best.area) && contains(o.ring, px, py)) best = o;
    best?.holes.push(hole);
  }
  return outers.map((o) => [o.ring, ...o.holes]);
}

/** Closed rings (first vertex repeated last), collinear vertices dropped. */
export function traceRings(values: Uint8Array, width: number, height: number, value: number): Ring[] {
  const W1 = width + 1;
  const inside = (x: number, y: number) =>
    x >= 0 && y >= 0 && x < width && y < height && values[y * width + x] === value;
  // Outgoing edge directions per vertex (bit d set = an edge leaves in direction d).
  const out = new Map<number, number>();
  const add = (x: number, y: number, d: number) => out.set(y * W1 + x, (out.get(y * W1 + x) ?? 0) | (1 << d));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (values[y * width + x] !== value) continue;
      if (!inside(x, y - 1)) add(x, y, 0);
      if (!inside(x + 1, y)) add(x + 1, y, 1);
      if (!inside(x, y + 1)) add(x + 1, y + 1, 2);
      if (!inside(x - 1, y)) add(x, y + 1, 3);
    }
  }
  const rings: Ring[] = [];
  for (const start of out.keys()) {
    // Re-read: walks change the map's values; a vertex where two rings touch is started twice.
    while ((out.get(start) ?? 0) !== 0) rings.push(walk(out, start, W1));
  }
  return rings;
}

function walk(out: Map<number, number>, start: number, W1: number): Ring {
  const ring: Ring = [];
  let v = start;
  let d = firstBit(out.get(v)!);
  for (;;) {
    const x = v % W1;
    const y = (v - x) / W1;
    if (v === start && ring.length > 0) break; // closed (a second ring through this vertex is walked apart)
    const bits = out.get(v) ?? 0;
    // Right turn first (hugs the pixel on the right), then straight, then left.
    const next = [(d + 1) % 4, d, (d + 3) % 4].find((c) => bits & (1 << c));
    if (next === undefined) throw new Error('label outline: an open ring (a bug: edges of pixels always close)');
    if (ring.length === 0 || next !== d) ring.push([x, y]);
    out.set(v, bits & ~(1 << next));
    d = next;
    v = (y + DY[d]!) * W1 + (x + DX[d]!);
  }
  ring.push([ring[0]![0], ring[0]![1]]);
  return ring;
}

function firstBit(bits: number): number {
  for (let d = 0; d < 4; d++) if (bits & (1 << d)) return d;
  return 0;
}

/** Shoelace area, positive for a ring that is clockwise on screen (y down) = counter-clockwise with y up. */
export function ringArea(r: Ring): number {
  let a = 0;
  for (let i = 0; i + 1 < r.length; i++) a += r[i]![0] * r[i + 1]![1] - r[i + 1]![0] * r[i]![1];
  return a / 2;
}

/** A point strictly inside a hole (left of its first edge, a quarter pixel in). */
function pointInside(hole: Ring): [number, number] {
  const [x0, y0] = hole[0]!;
  const [x1, y1] = hole[1]!;
  const dx = Math.sign(x1 - x0);
  const dy = Math.sign(y1 - y0);
  // Left of travel with y down is (dy, -dx).
  return [x0 + dx * 0.5 + dy * 0.25, y0 + dy * 0.5 - dx * 0.25];
}

/** Even-odd point in ring. */
function contains(r: Ring, px: number, py: number): boolean {
  let inside = false;
  for (let i = 0, j = r.length - 2; i < r.length - 1; j = i++) {
    const [xi, yi] = r[i]!;
    const [xj, yj] = r[j]!;
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
