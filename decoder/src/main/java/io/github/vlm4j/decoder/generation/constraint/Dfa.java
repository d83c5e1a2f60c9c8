package io.github.vlm4j.decoder.generation.constraint;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * A deterministic automaton over UTF-16 chars as immutable arrays: per state, its outgoing edges
 * as sorted disjoint char intervals; a missing interval leads to an implicit dead state. The
 * operations here (subset construction, minimization, intersection) run under a {@link
 * CompileBudget}: they stop with {@link ConstraintTooComplexException} when a result would exceed
 * its state or edge limits or the deadline passes, never using more memory than those limits allow.
 */
final class Dfa {
  private final int start;
  private final boolean[] accept;
  /** Edges of state q are first[q] .. first[q + 1] - 1. */
  private final int[] first;
  private final char[] lo;
  private final char[] hi;
  private final int[] dst;

  private Dfa(int start, boolean[] accept, int[] first, char[] lo, char[] hi, int[] dst) {
    this.start = start;
    this.accept = accept;
    this.first = first;
    this.lo = lo;
    this.hi = hi;
    this.dst = dst;
  }

  /** The automaton of the empty language (no states). */
  static Dfa none() {
    return new Dfa(-1, new boolean[0], new int[1], new char[0], new char[0], new int[0]);
  }

  int start() {
    return start;
  }

  int size() {
    return accept.length;
  }

  int edgeCount() {
    return dst.length;
  }

  boolean accepting(int q) {
    return accept[q];
  }

  int first(int q) {
    return first[q];
  }

  int lo(int e) {
    return lo[e];
  }

  int hi(int e) {
    return hi[e];
  }

  int dst(int e) {
    return dst[e];
  }

  /** Whether no text matches (true after {@link #minimize} exactly when the language is empty). */
  boolean isEmpty() {
    return accept.length == 0;
  }

  /** Whether the whole text matches (for tests). */
  boolean matches(CharSequence text) {
    if (start < 0) {
      return false;
    }
    int q = start;
    for (int i = 0; i < text.length(); i++) {
      q = step(q, text.charAt(i));
      if (q < 0) {
        return false;
      }
    }
    return accept[q];
  }

  int step(int q, char c) {
    int a = first[q];
    int b = first[q + 1] - 1;
    while (a <= b) {
      int m = (a + b) >>> 1;
      if (c < lo[m]) {
        b = m - 1;
      } else if (c > hi[m]) {
        a = m + 1;
      } else {
        return dst[m];
      }
    }
    return -1;
  }

  /** Accumulates states (numbered in order) and their edges (added state by state, sorted). */
  static final class Builder {
    private final CompileBudget budget;
    private boolean[] accept = new boolean[16];
    private int[] first = new int[17];
    private char[] lo = new char[64];
    private char[] hi = new char[64];
    private int[] dst = new int[64];
    private int states;
    private int edges;
    private int open = -1;

    Builder(CompileBudget budget) {
      this.budget = budget;
    }

    int size() {
      return states;
    }

    /** Adds a state; throws if it is one too many. */
    int addState(boolean accepting) {
      if (states >= budget.maxDfaStates) {
        throw budget.tooManyStates();
      }
      if (states == accept.length) {
        accept = Arrays.copyOf(accept, states * 2);
        first = Arrays.copyOf(first, states * 2 + 1);
      }
      accept[states] = accepting;
      return states++;
    }

    /** Starts the edges of the next state in order (states' edges must be added in state order). */
    void beginEdges(int q) {
      if (q != open + 1) {
        throw new IllegalStateException("edges of state " + q + " after state " + open);
      }
      open = q;
      first[q] = edges;
    }

    /** Adds an edge of the open state (intervals ascending); merges with the previous if adjacent. */
    void edge(int min, int max, int to) {
      if (edges > first[open] && dst[edges - 1] == to && hi[edges - 1] + 1 == min) {
        hi[edges - 1] = (char) max;
        return;
      }
      if (edges >= budget.maxDfaEdges) {
        throw new ConstraintTooComplexException("the constraint needs more than " + budget.maxDfaEdges
            + " automaton transitions");
      }
      if (edges == dst.length) {
        int n = edges * 2;
        lo = Arrays.copyOf(lo, n);
        hi = Arrays.copyOf(hi, n);
        dst = Arrays.copyOf(dst, n);
      }
      lo[edges] = (char) min;
      hi[edges] = (char) max;
      dst[edges] = to;
      edges++;
    }

    Dfa build(int startState) {
      for (int q = open + 1; q <= states; q++) {
        first[q] = edges;
      }
      return new Dfa(startState, Arrays.copyOf(accept, states), Arrays.copyOf(first, states + 1),
          Arrays.copyOf(lo, edges), Arrays.copyOf(hi, edges), Arrays.copyOf(dst, edges));
    }
  }

  /**
   * Subset construction: the DFA of an NFA fragment ({@code whole.start} to the accepting {@code
   * whole.end}). Only NFA states with char edges, and the accepting one, are kept in subsets.
   */
  static Dfa determinize(Nfa nfa, Nfa.Frag whole) {
    CompileBudget budget = nfa.budget();
    int n = nfa.stateCount();
    int m = nfa.edgeCount();
    int[] epsFirst = new int[n + 1];
    int[] chrFirst = new int[n + 1];
    for (int e = 0; e < m; e++) {
      if (nfa.lo(e) == Nfa.EPSILON) {
        epsFirst[nfa.src(e) + 1]++;
      } else {
        chrFirst[nfa.src(e) + 1]++;
      }
    }
    for (int i = 0; i < n; i++) {
      epsFirst[i + 1] += epsFirst[i];
      chrFirst[i + 1] += chrFirst[i];
    }
    int[] epsDst = new int[epsFirst[n]];
    int[] chrLo = new int[chrFirst[n]];
    int[] chrHi = new int[chrFirst[n]];
    int[] chrDst = new int[chrFirst[n]];
    int[] fillE = Arrays.copyOf(epsFirst, n);
    int[] fillC = Arrays.copyOf(chrFirst, n);
    for (int e = 0; e < m; e++) {
      int s = nfa.src(e);
      if (nfa.lo(e) == Nfa.EPSILON) {
        epsDst[fillE[s]++] = nfa.dst(e);
      } else {
        int k = fillC[s]++;
        chrLo[k] = nfa.lo(e);
        chrHi[k] = nfa.hi(e);
        chrDst[k] = nfa.dst(e);
      }
    }
    fillE = null;
    fillC = null;
    int acceptState = whole.end();
    Closure closure = new Closure(n, epsFirst, epsDst, chrFirst, acceptState, budget);
    Map<Subset, Integer> ids = new HashMap<>();
    java.util.ArrayList<int[]> subsets = new java.util.ArrayList<>();
    Builder out = new Builder(budget);
    long entries = 0;
    int[] startSet = closure.of(new int[] {whole.start()}, 1);
    if (startSet.length == 0) {
      return none();
    }
    ids.put(new Subset(startSet), out.addState(contains(startSet, acceptState)));
    subsets.add(startSet);
    entries += startSet.length;
    int[] points = new int[64];
    int[] targets = new int[64];
    int[] bucketFirst = new int[64];
    int[] eLo = new int[64];
    int[] eHi = new int[64];
    int[] eDst = new int[64];
    for (int q = 0; q < subsets.size(); q++) {
      budget.check();
      int[] set = subsets.get(q);
      subsets.set(q, null);
      out.beginEdges(q);
      int k = 0;
      for (int s : set) {
        for (int e = chrFirst[s]; e < chrFirst[s + 1]; e++) {
          if (k == eLo.length) {
            eLo = Arrays.copyOf(eLo, k * 2);
            eHi = Arrays.copyOf(eHi, k * 2);
            eDst = Arrays.copyOf(eDst, k * 2);
          }
          eLo[k] = chrLo[e];
          eHi[k] = chrHi[e];
          eDst[k] = chrDst[e];
          k++;
        }
      }
      if (k == 0) {
        continue;
      }
      // Elementary intervals: between consecutive distinct boundaries (each lo and hi + 1).
      if (points.length < 2 * k) {
        points = new int[2 * k];
      }
      for (int i = 0; i < k; i++) {
        points[2 * i] = eLo[i];
        points[2 * i + 1] = eHi[i] + 1;
      }
      Arrays.sort(points, 0, 2 * k);
      int p = 0;
      for (int i = 0; i < 2 * k; i++) {
        if (p == 0 || points[p - 1] != points[i]) {
          points[p++] = points[i];
        }
      }
      // Bucket each edge's target into the intervals it covers (two passes: count, then fill).
      if (bucketFirst.length < p + 1) {
        bucketFirst = new int[p + 1];
      }
      Arrays.fill(bucketFirst, 0, p + 1, 0);
      long total = 0;
      for (int i = 0; i < k; i++) {
        int a = Arrays.binarySearch(points, 0, p, eLo[i]);
        for (int j = a; j < p && points[j] <= eHi[i]; j++) {
          bucketFirst[j + 1]++;
          total++;
        }
        budget.poll();
      }
      if (total > budget.maxSubsetEntries) {
        throw new ConstraintTooComplexException("the constraint needs more than " + budget.maxSubsetEntries
            + " automaton state entries while determinizing");
      }
      for (int j = 0; j < p; j++) {
        bucketFirst[j + 1] += bucketFirst[j];
      }
      if (targets.length < total) {
        targets = new int[(int) total];
      }
      int[] fill = Arrays.copyOf(bucketFirst, p);
      for (int i = 0; i < k; i++) {
        int a = Arrays.binarySearch(points, 0, p, eLo[i]);
        for (int j = a; j < p && points[j] <= eHi[i]; j++) {
          targets[fill[j]++] = eDst[i];
        }
      }
      for (int j = 0; j + 1 < p; j++) {
        int count = bucketFirst[j + 1] - bucketFirst[j];
        if (count == 0) {
          continue;
        }
        int[] from = Arrays.copyOfRange(targets, bucketFirst[j], bucketFirst[j + 1]);
        int[] next = closure.of(from, count);
        if (next.length == 0) {
          continue;
        }
        Subset key = new Subset(next);
        Integer id = ids.get(key);
        if (id == null) {
          entries += next.length;
          if (entries > budget.maxSubsetEntries) {
            throw new ConstraintTooComplexException("the constraint needs more than " + budget.maxSubsetEntries
                + " automaton state entries while determinizing");
          }
          id = out.addState(contains(next, acceptState));
          ids.put(key, id);
          subsets.add(next);
        }
        out.edge(points[j], points[j + 1] - 1, id);
      }
    }
    return out.build(0);
  }

  private static boolean contains(int[] sorted, int x) {
    return Arrays.binarySearch(sorted, x) >= 0;
  }

  /** A subset of NFA states (sorted), hashed once. */
  private static final class Subset {
    final int[] states;
    final int hash;

    Subset(int[] states) {
      this.states = states;
      this.hash = Arrays.hashCode(states);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Subset s && s.hash == hash && Arrays.equals(s.states, states);
    }

    @Override
    public int hashCode() {
      return hash;
    }
  }

  /** Epsilon closures, keeping the states with char edges and the accepting state, sorted. */
  private static final class Closure {
    private final int[] epsFirst;
    private final int[] epsDst;
    private final int[] chrFirst;
    private final int accept;
    private final CompileBudget budget;
    private final int[] mark;
    private int stamp;
    private int[] stack;
    private int[] kept;

    Closure(int n, int[] epsFirst, int[] epsDst, int[] chrFirst, int accept, CompileBudget budget) {
      this.budget = budget;
      this.epsFirst = epsFirst;
      this.epsDst = epsDst;
      this.chrFirst = chrFirst;
      this.accept = accept;
      this.mark = new int[n];
      this.stack = new int[64];
      this.kept = new int[64];
    }

    int[] of(int[] from, int count) {
      stamp++;
      int sp = 0;
      int nk = 0;
      for (int i = 0; i < count; i++) {
        int s = from[i];
        if (mark[s] != stamp) {
          mark[s] = stamp;
          if (sp == stack.length) {
            stack = Arrays.copyOf(stack, sp * 2);
          }
          stack[sp++] = s;
        }
      }
      while (sp > 0) {
        budget.poll();
        int s = stack[--sp];
        if (s == accept || chrFirst[s + 1] > chrFirst[s]) {
          if (nk == kept.length) {
            kept = Arrays.copyOf(kept, nk * 2);
          }
          kept[nk++] = s;
        }
        for (int e = epsFirst[s]; e < epsFirst[s + 1]; e++) {
          int t = epsDst[e];
          if (mark[t] != stamp) {
            mark[t] = stamp;
            if (sp == stack.length) {
              stack = Arrays.copyOf(stack, sp * 2);
            }
            stack[sp++] = t;
          }
        }
      }
      int[] r = Arrays.copyOf(kept, nk);
      Arrays.sort(r);
      return r;
    }
  }

  /** The live part: states reachable from the start from which an accepting state is reachable. */
  Dfa trim(CompileBudget budget) {
    int n = size();
    if (n == 0) {
      return this;
    }
    boolean[] reach = new boolean[n];
    int[] queue = new int[n];
    int head = 0;
    int tail = 0;
    reach[start] = true;
    queue[tail++] = start;
    while (head < tail) {
      int q = queue[head++];
      for (int e = first[q]; e < first[q + 1]; e++) {
        if (!reach[dst[e]]) {
          reach[dst[e]] = true;
          queue[tail++] = dst[e];
        }
      }
      budget.poll();
    }
    int[] revFirst = new int[n + 1];
    for (int e = 0; e < dst.length; e++) {
      revFirst[dst[e] + 1]++;
    }
    for (int i = 0; i < n; i++) {
      revFirst[i + 1] += revFirst[i];
    }
    int[] revSrc = new int[dst.length];
    int[] fill = Arrays.copyOf(revFirst, n);
    for (int q = 0; q < n; q++) {
      for (int e = first[q]; e < first[q + 1]; e++) {
        revSrc[fill[dst[e]]++] = q;
      }
    }
    boolean[] live = new boolean[n];
    head = 0;
    tail = 0;
    for (int q = 0; q < n; q++) {
      if (accept[q] && reach[q]) {
        live[q] = true;
        queue[tail++] = q;
      }
    }
    while (head < tail) {
      int q = queue[head++];
      for (int k = revFirst[q]; k < revFirst[q + 1]; k++) {
        int p = revSrc[k];
        if (reach[p] && !live[p]) {
          live[p] = true;
          queue[tail++] = p;
        }
      }
      budget.poll();
    }
    if (!live[start]) {
      return none();
    }
    int[] renumber = new int[n];
    int kept = 0;
    for (int q = 0; q < n; q++) {
      renumber[q] = live[q] ? kept++ : -1;
    }
    if (kept == n) {
      return this;
    }
    Builder b = new Builder(budget);
    for (int q = 0; q < n; q++) {
      if (live[q]) {
        b.addState(accept[q]);
      }
    }
    for (int q = 0; q < n; q++) {
      if (live[q]) {
        b.beginEdges(renumber[q]);
        for (int e = first[q]; e < first[q + 1]; e++) {
          if (renumber[dst[e]] >= 0) {
            b.edge(lo[e], hi[e], renumber[dst[e]]);
          }
        }
      }
    }
    return b.build(renumber[start]);
  }

  /**
   * The minimal DFA of the same language (trimmed: every state live). Hopcroft-style partition
   * refinement on interval edges: a block is split by the set of chars leading from each of its
   * states into the splitter block (sound because equivalent states agree on it for every block;
   * the smaller-half rule holds because the automaton is deterministic), in O(m log n) time and
   * O(n + m) memory for n states and m interval edges.
   */
  Dfa minimize(CompileBudget budget) {
    Dfa d = trim(budget);
    return d.size() <= 1 ? d : d.refine(budget);
  }

  private Dfa refine(CompileBudget budget) {
    int n = size();
    int m = dst.length;
    int[] src = new int[m];
    for (int q = 0; q < n; q++) {
      for (int e = first[q]; e < first[q + 1]; e++) {
        src[e] = q;
      }
    }
    int[] inFirst = new int[n + 1];
    for (int e = 0; e < m; e++) {
      inFirst[dst[e] + 1]++;
    }
    for (int i = 0; i < n; i++) {
      inFirst[i + 1] += inFirst[i];
    }
    int[] inEdge = new int[m];
    int[] fill = Arrays.copyOf(inFirst, n);
    for (int e = 0; e < m; e++) {
      inEdge[fill[dst[e]]++] = e;
    }
    fill = null;
    int[] elems = new int[n];
    int[] pos = new int[n];
    int[] blk = new int[n];
    int[] bFirst = new int[n + 1];
    int[] bEnd = new int[n + 1];
    boolean[] inWork = new boolean[n + 1];
    int[] work = new int[n + 1];
    int top = 0;
    int blocks = 0;
    int k = 0;
    for (int pass = 0; pass < 2; pass++) {
      int begin = k;
      for (int q = 0; q < n; q++) {
        if (accept[q] == (pass == 0)) {
          elems[k] = q;
          pos[q] = k;
          blk[q] = blocks;
          k++;
        }
      }
      if (k > begin) {
        bFirst[blocks] = begin;
        bEnd[blocks] = k;
        inWork[blocks] = true;
        work[top++] = blocks;
        blocks++;
      }
    }
    long[] keys = new long[64];
    int[] sigOf = new int[n];
    long[] touched = new long[64];
    while (top > 0) {
      budget.check();
      int b = work[--top];
      inWork[b] = false;
      // Collect the edges into block b, keyed by (source, lo) so each source's intervals sort together.
      int c = 0;
      for (int i = bFirst[b]; i < bEnd[b]; i++) {
        int s = elems[i];
        for (int j = inFirst[s]; j < inFirst[s + 1]; j++) {
          int e = inEdge[j];
          if (c == keys.length) {
            keys = Arrays.copyOf(keys, c * 2);
          }
          keys[c++] = ((long) src[e] << 40) | ((long) lo[e] << 24) | (e & 0xffffffL);
        }
      }
      if (c == 0) {
        continue;
      }
      budget.poll();
      Arrays.sort(keys, 0, c);
      // One signature (the merged char intervals into b) per source state.
      Map<Signature, Integer> sigIds = new HashMap<>();
      int nt = 0;
      int i = 0;
      int[] buf = new int[16];
      while (i < c) {
        int s = (int) (keys[i] >>> 40);
        int len = 0;
        while (i < c && (int) (keys[i] >>> 40) == s) {
          int e = (int) (keys[i] & 0xffffffL);
          if (len > 0 && buf[len - 1] + 1 == lo[e]) {
            buf[len - 1] = hi[e];
          } else {
            if (len + 2 > buf.length) {
              buf = Arrays.copyOf(buf, buf.length * 2);
            }
            buf[len++] = lo[e];
            buf[len++] = hi[e];
          }
          i++;
        }
        Signature sig = new Signature(Arrays.copyOf(buf, len));
        Integer id = sigIds.get(sig);
        if (id == null) {
          id = sigIds.size();
          sigIds.put(sig, id);
        }
        sigOf[s] = id;
        if (nt == touched.length) {
          touched = Arrays.copyOf(touched, nt * 2);
        }
        touched[nt++] = ((long) blk[s] << 42) | ((long) id << 21) | s;
      }
      Arrays.sort(touched, 0, nt);
      int r = 0;
      while (r < nt) {
        int x = (int) (touched[r] >>> 42);
        int runEnd = r;
        while (runEnd < nt && (int) (touched[runEnd] >>> 42) == x) {
          runEnd++;
        }
        int t = runEnd - r;
        int size = bEnd[x] - bFirst[x];
        boolean oneSig = sigOf[(int) (touched[r] & 0x1fffff)] == sigOf[(int) (touched[runEnd - 1] & 0x1fffff)];
        if (t == size && oneSig) {
          r = runEnd;
          continue;
        }
        // Lay the block out as [untouched | group 1 | group 2 | ...], touched states sorted by signature.
        int tailStart = bEnd[x] - t;
        int ptr = bEnd[x] - 1;
        for (int j = r; j < runEnd; j++) {
          int s = (int) (touched[j] & 0x1fffff);
          int ps = pos[s];
          int other = elems[ptr];
          elems[ps] = other;
          pos[other] = ps;
          elems[ptr] = s;
          pos[s] = ptr;
          ptr--;
        }
        for (int j = r; j < runEnd; j++) {
          int s = (int) (touched[j] & 0x1fffff);
          int at = tailStart + (j - r);
          elems[at] = s;
          pos[s] = at;
        }
        boolean wasQueued = inWork[x];
        // Parts: the untouched remainder keeps id x; else the first group does.
        int[] partId = new int[t + 1];
        int[] partSize = new int[t + 1];
        int np = 0;
        boolean xTaken = false;
        if (tailStart > bFirst[x]) {
          bEnd[x] = tailStart;
          partId[np] = x;
          partSize[np++] = tailStart - bFirst[x];
          xTaken = true;
        }
        int j = r;
        while (j < runEnd) {
          int sig = sigOf[(int) (touched[j] & 0x1fffff)];
          int g = j;
          while (g < runEnd && sigOf[(int) (touched[g] & 0x1fffff)] == sig) {
            g++;
          }
          int from = tailStart + (j - r);
          int to = tailStart + (g - r);
          int id = xTaken ? blocks++ : x;
          xTaken = true;
          bFirst[id] = from;
          bEnd[id] = to;
          for (int h = from; h < to; h++) {
            blk[elems[h]] = id;
          }
          partId[np] = id;
          partSize[np++] = to - from;
          j = g;
        }
        int largest = 0;
        for (int h = 1; h < np; h++) {
          if (partSize[h] > partSize[largest]) {
            largest = h;
          }
        }
        for (int h = 0; h < np; h++) {
          int id = partId[h];
          if (!inWork[id] && (wasQueued || h != largest)) {
            inWork[id] = true;
            work[top++] = id;
          }
        }
        r = runEnd;
      }
    }
    Builder out = new Builder(budget);
    for (int bl = 0; bl < blocks; bl++) {
      out.addState(accept[elems[bFirst[bl]]]);
    }
    for (int bl = 0; bl < blocks; bl++) {
      out.beginEdges(bl);
      int q = elems[bFirst[bl]];
      for (int e = first[q]; e < first[q + 1]; e++) {
        out.edge(lo[e], hi[e], blk[dst[e]]);
      }
    }
    return out.build(blk[start]);
  }

  /** Merged char intervals (lo, hi pairs) from one state into a splitter block. */
  private record Signature(int[] ranges) {
    @Override
    public boolean equals(Object o) {
      return o instanceof Signature s && Arrays.equals(s.ranges, ranges);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(ranges);
    }
  }

  /** The product automaton accepting the texts both accept (not minimized). */
  static Dfa intersect(Dfa a, Dfa b, CompileBudget budget) {
    if (a.isEmpty() || b.isEmpty()) {
      return none();
    }
    Builder out = new Builder(budget);
    Map<Long, Integer> ids = new HashMap<>();
    java.util.ArrayList<Long> pairs = new java.util.ArrayList<>();
    long first0 = pair(a.start, b.start);
    ids.put(first0, out.addState(a.accept[a.start] && b.accept[b.start]));
    pairs.add(first0);
    for (int q = 0; q < pairs.size(); q++) {
      budget.poll();
      long pq = pairs.get(q);
      int x = (int) (pq >>> 32);
      int y = (int) pq;
      out.beginEdges(q);
      int i = a.first[x];
      int j = b.first[y];
      while (i < a.first[x + 1] && j < b.first[y + 1]) {
        int lo = Math.max(a.lo[i], b.lo[j]);
        int hi = Math.min(a.hi[i], b.hi[j]);
        if (lo <= hi) {
          long next = pair(a.dst[i], b.dst[j]);
          Integer id = ids.get(next);
          if (id == null) {
            id = out.addState(a.accept[a.dst[i]] && b.accept[b.dst[j]]);
            ids.put(next, id);
            pairs.add(next);
          }
          out.edge(lo, hi, id);
        }
        if (a.hi[i] < b.hi[j]) {
          i++;
        } else {
          j++;
        }
      }
    }
    return out.build(0);
  }

  private static long pair(int x, int y) {
    return ((long) x << 32) | (y & 0xffffffffL);
  }
}
