// Placeholder until the meeting UI lands.
document.querySelector('#app')?.setAttribute('data-ready', '1');
