import { createPinia } from 'pinia'
import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router'

const app = createApp(App).use(createPinia()).use(router)
// Mounted once the first route is decided, which waits for the session to be restored
// (see the router's guard): no flash of a signed-out header on a reload.
router.isReady().finally(() => app.mount('#app'))
