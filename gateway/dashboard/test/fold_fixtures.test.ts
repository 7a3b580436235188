// The fold against the shared fixtures of tests/fixtures/folds/*.json:
// given these events, expect these rows. The C++ folds read the same files
// (tests/projections/fold_fixtures_test.cc), so this port of
// projections/folds.cc cannot drift from it.
import { describe, expect, it } from 'vitest';
import { emptyFoldState, foldEvents } from '../src/fold';
import type { AgentRow, RecordedEvent, RestPair, SpanRow, TaskRow, UsagePoint } from '../src/types';

interface Fixture {
  description: string;
  events: Array<Pick<RecordedEvent, 'position' | 'recorded_time_us' | 'stream' | 'type' | 'data'>>;
  expect: {
    agents: Record<string, AgentRow>;
    tasks: Record<string, TaskRow>;
    pairs: RestPair[]; // as /v1/coordination lists them: by manager, worker
    usage: UsagePoint[]; // as /v1/usage lists them: by model, bucket
    spans: Record<string, Record<string, SpanRow>>; // by trace id, span id
  };
}

const fixtures = import.meta.glob<Fixture>('../../../tests/fixtures/folds/*.json', {
  eager: true,
  import: 'default',
});

const noGates = { agents: 0, tasks: 0, metrics: 0 };
const byKeys = <T>(keys: (row: T) => Array<string | number>) => (a: T, b: T) => {
  const [ka, kb] = [keys(a), keys(b)];
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
  return 0;
};

describe('the shared fold fixtures (tests/fixtures/folds)', () => {
  it('are there', () => {
    expect(Object.keys(fixtures).length).toBeGreaterThanOrEqual(4);
  });

  for (const [path, fixture] of Object.entries(fixtures)) {
    it(`${path.split('/').pop()}: ${fixture.description}`, () => {
      const events: RecordedEvent[] = fixture.events.map((e) => ({
        ...e,
        event_id: `00000000-0000-7000-8000-${String(e.position).padStart(12, '0')}`,
        revision: 0,
        metadata: {},
        hash: '',
      }));
      const s = foldEvents(emptyFoldState(), events, noGates);
      expect(s.agents).toEqual(fixture.expect.agents);
      expect(s.tasks).toEqual(fixture.expect.tasks);
      const pairs: RestPair[] = Object.values(s.pairs)
        .sort(byKeys((p) => [p.manager_id, p.worker_id]))
        .map(({ complete_time_sum_ms, complete_time_count, ...p }) => ({
          ...p,
          mean_time_to_complete_ms: complete_time_count > 0 ? complete_time_sum_ms / complete_time_count : null,
        }));
      expect(pairs).toEqual(fixture.expect.pairs);
      const usage = Object.values(s.usage).sort(byKeys((u) => [u.model, u.bucket_time_us]));
      expect(usage).toEqual(fixture.expect.usage);
      expect(s.spans).toEqual(fixture.expect.spans);
    });
  }
});
