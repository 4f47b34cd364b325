import { mount } from 'svelte';
import App from './ui/App.svelte';
import { Studio } from './ui/studio.svelte';
import { createEngine } from './engine/client';
import { exposeAutomation } from './automation';
import { conferenceSettings } from './ui/conference';

const { engine, onLost } = createEngine();
const studio = new Studio(engine);
onLost((err) => void studio.engineStopped(err));
mount(App, { target: document.getElementById('app')!, props: { studio, conference: conferenceSettings(location.search) } });
exposeAutomation(studio, engine);
void studio.start();
// The built studio caches itself for offline use (public/sw.js); the dev server does not, so edits show at once.
if (import.meta.env.PROD && 'serviceWorker' in navigator) void navigator.serviceWorker.register(new URL('sw.js', document.baseURI)).then(() => studio.watchOffline());
