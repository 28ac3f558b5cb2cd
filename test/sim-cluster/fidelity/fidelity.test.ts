// The simulation against what a real Kubernetes answered to the same conversation (issue 11):
// every difference the cluster tier found is fixed in the simulation or listed in NOT_MODELLED.
import test from 'ava';
import { readRecording } from './recording.js';
import { converseWithSimulation } from './sim-target.js';

test('the simulation answers the conversation as the real cluster did: statuses, Status bodies, Jobs, pods, logs, events, watches, garbage collection', async (t) => {
  const { kubernetes, record } = await readRecording();
  t.log(`recorded from Kubernetes ${kubernetes}`);
  t.deepEqual(await converseWithSimulation(), record);
});
