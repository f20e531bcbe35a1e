import { createRouter, createWebHistory } from 'vue-router'
import { useAuthStore } from '@/stores/auth'
import AccountView from '@/views/AccountView.vue'
import AdminView from '@/views/AdminView.vue'
import CatalogView from '@/views/CatalogView.vue'
import LoginView from '@/views/LoginView.vue'
import NotificationsView from '@/views/NotificationsView.vue'
import OrderDetailView from '@/views/OrderDetailView.vue'
import OrdersView from '@/views/OrdersView.vue'
import ReviewsView from '@/views/ReviewsView.vue'

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', component: CatalogView },
    { path: '/login', component: LoginView, props: { mode: 'login' } },
    { path: '/register', component: LoginView, props: { mode: 'register' } },
    { path: '/orders', component: OrdersView, meta: { signedIn: true } },
    { path: '/orders/:orderId', component: OrderDetailView, props: true, meta: { signedIn: true } },
    { path: '/notifications', component: NotificationsView, meta: { signedIn: true } },
    { path: '/account', component: AccountView, meta: { signedIn: true } },
    { path: '/admin', component: AdminView, meta: { signedIn: true, admin: true } },
    { path: '/admin/reviews', component: ReviewsView, meta: { signedIn: true, admin: true } },
    // Loaded when first opened: its chart library is for admins, not every visitor.
    {
      path: '/admin/operations',
      component: () => import('@/views/OperationsView.vue'),
      meta: { signedIn: true, admin: true },
    },
  ],
})

router.beforeEach(async (to) => {
  const auth = useAuthStore()
  // The first navigation waits for the session to be restored from the refresh cookie,
  // so that a reload of a signed-in page stays on it.
  await auth.restore()
  if (to.meta.signedIn && !auth.signedIn) return { path: '/login', query: { next: to.fullPath } }
  if (to.meta.admin) {
    if (!auth.user) await auth.loadProfile().catch(() => undefined)
    if (!auth.isAdmin) return '/'
  }
})
